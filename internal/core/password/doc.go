// Package password hashes and verifies user passwords and decides whether a
// new password is acceptable.
//
// Hashing is bcrypt over a peppered pre-hash (see Hasher). The policy follows
// NIST SP 800-63B: a minimum length, a maximum length, and a block list, but
// no composition rules, because those push users towards predictable
// patterns without adding real strength.
//
// The block list, common-passwords.txt, is the 10,000 most frequent entries
// of the "passwords" frequency list shipped in the zxcvbn npm package
// (version 4.4.2, MIT License, Copyright (c) 2012-2016 Dan Wheeler and
// Dropbox, Inc.; the license text is in the file's header). It is embedded
// so that the check needs no I/O and cannot be silently disabled by a
// missing file.
package password
