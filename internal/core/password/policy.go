package password

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxBytes bounds password length so that an attacker cannot make the
// server HMAC megabytes per login attempt.
const MaxBytes = 1024

// ErrTooLong is returned by Policy.Check, before any other rule, for a
// password longer than MaxBytes.
var ErrTooLong = errors.New("password is longer than 1024 bytes")

// Rule names carried by WeakError.Rule; stable, for clients and logs.
const (
	RuleMinLength      = "min_length"
	RuleCommon         = "common"
	RuleContainsEmail  = "contains_email"
	RuleContainsTenant = "contains_tenant"
)

// WeakError says why a password was refused. Reason is written for the
// user and never quotes the password, since errors tend to end up in logs.
type WeakError struct {
	Rule   string
	Reason string
}

func (e *WeakError) Error() string { return e.Reason }

// Policy decides whether a new password is acceptable. Following NIST SP
// 800-63B it has no composition rules; any Unicode, including spaces, is
// allowed.
type Policy struct {
	// MinLength counts characters (runes), not bytes, so that users of
	// non-Latin scripts are not held to a stricter rule.
	MinLength int
}

// Check returns ErrTooLong, a *WeakError, or nil. Invalid UTF-8 is accepted
// as is; each invalid byte counts as one character.
func (p Policy) Check(password, email, tenantSlug string) error {
	if len(password) > MaxBytes {
		return ErrTooLong
	}
	if utf8.RuneCountInString(password) < p.MinLength {
		return &WeakError{Rule: RuleMinLength, Reason: fmt.Sprintf("Use at least %d characters.", p.MinLength)}
	}
	if IsCommon(password) {
		return &WeakError{Rule: RuleCommon, Reason: "This is one of the most commonly used passwords. Choose one that is harder to guess."}
	}
	lower := strings.ToLower(password)
	if containsFold(lower, emailLocalPart(email)) {
		return &WeakError{Rule: RuleContainsEmail, Reason: "Do not use your email address or part of it in your password."}
	}
	if containsFold(lower, tenantSlug) {
		return &WeakError{Rule: RuleContainsTenant, Reason: "Do not use your organization's name in your password."}
	}
	return nil
}

// containsFold reports whether lowerPassword contains part, ignoring case.
// Parts shorter than three characters are ignored: they would match too
// many reasonable passwords by chance.
func containsFold(lowerPassword, part string) bool {
	return utf8.RuneCountInString(part) >= 3 && strings.Contains(lowerPassword, strings.ToLower(part))
}

// emailLocalPart returns what precedes the last '@' (a quoted local part
// may itself contain '@'), or the whole string if there is none.
func emailLocalPart(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return email[:i]
	}
	return email
}

//go:embed common-passwords.txt
var commonList string

// commonSet is built on first use only, so processes that never check a
// password (migrations, CLI tools) do not pay for it. Keys are substrings
// of the embedded text, so the map holds no copies of the passwords.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for line := range strings.SplitSeq(commonList, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// IsCommon reports whether password, ignoring case, is in the embedded list
// of common passwords.
func IsCommon(password string) bool {
	_, ok := commonSet()[strings.ToLower(password)]
	return ok
}
