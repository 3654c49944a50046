// Package token holds the cryptographic primitives of the identity provider:
// Ed25519 signing keys and their JWKS, RFC 9068 access tokens (JWT), opaque
// refresh/reset tokens, and AES-GCM sealing of secrets at rest.
//
// It is a leaf package on purpose: no I/O, no storage, no configuration, so
// that every security-relevant decision about token bytes is made (and can be
// tested and fuzzed) in one place.
package token
