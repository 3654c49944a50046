package core

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// maxEmailBytes is the longest address accepted (RFC 5321's path limit is
// smaller; 320 is the common bound of local part plus domain).
const maxEmailBytes = 320

// NormalizeEmail is the one place that decides when two emails are the same
// account: surrounding spaces are dropped, the text is put in Unicode NFC,
// case is folded, and an internationalised domain is written as its
// A-labels (bücher.de and xn--bcher-kva.de are one domain). Input that is
// not an address still normalizes to something, so lookups and throttling
// keys stay total; checkEmail says whether it is acceptable.
func NormalizeEmail(email string) string {
	e := strings.ToLower(norm.NFC.String(strings.TrimSpace(email)))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	if ascii, err := idna.Lookup.ToASCII(e[at+1:]); err == nil && ascii != "" {
		return e[:at+1] + strings.ToLower(ascii)
	}
	return e
}

// checkEmail accepts one plain address, as a person would type it: valid
// UTF-8 of at most 320 bytes, no invisible or control characters (PRECIS,
// RFC 8265: they make look-alike accounts), an addr-spec without display
// name, and a domain that is a valid host name with a dot, or localhost.
// It takes the raw input, so the characters it refuses can't be hidden by
// normalization.
func checkEmail(raw string) error {
	email := strings.TrimSpace(raw)
	switch {
	case email == "":
		return Errorf(EINVALID, "email is required")
	case len(email) > maxEmailBytes:
		return Errorf(EINVALID, "email is longer than %d bytes", maxEmailBytes)
	case !utf8.ValidString(email):
		return Errorf(EINVALID, "email is not valid UTF-8")
	case strings.ContainsFunc(email, invisible):
		return Errorf(EINVALID, "email holds an invisible or control character")
	}
	n := NormalizeEmail(email)
	at := strings.LastIndexByte(n, '@')
	a, err := mail.ParseAddress(n)
	if err != nil || a.Name != "" || a.Address != n || at < 1 {
		return errNotAnAddress
	}
	domain := n[at+1:]
	if _, err := idna.Registration.ToASCII(domain); err != nil && domain != "localhost" {
		return Errorf(EINVALID, "email has an invalid domain")
	}
	if !strings.Contains(domain, ".") && domain != "localhost" {
		return errNotAnAddress
	}
	return nil
}

// The messages never quote the input: an unauthenticated caller gets the
// same words whatever it sent, and nothing it sent is reflected back.
var errNotAnAddress = Errorf(EINVALID, "email is not a valid address")

// invisible reports characters that have no place in an identifier:
// everything Escape hides, and spaces other than the plain one (which the
// address syntax refuses by itself).
func invisible(r rune) bool {
	return hidden(r) || r != ' ' && (unicode.IsSpace(r) || unicode.Is(unicode.Zs, r))
}
