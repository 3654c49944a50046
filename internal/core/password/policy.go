package password

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
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

// IsCommon reports whether password is a common password or an obvious
// variation of one. The list holds few entries as long as the minimum
// length, so long passwords are also refused when they are a listed
// password padded with digits or symbols ("password1234", "!!iloveyou2024"),
// one character repeated, or a run of the keyboard or the alphabet.
func IsCommon(password string) bool {
	lower := strings.ToLower(password)
	set := commonSet()
	if _, ok := set[lower]; ok {
		return true
	}
	core := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	if core != lower && utf8.RuneCountInString(core) >= 4 {
		if _, ok := set[core]; ok {
			return true
		}
	}
	return isMonotone(lower) || isSequence(lower)
}

// isMonotone reports one character repeated, "aaaaaaaaaaaa".
func isMonotone(s string) bool {
	if utf8.RuneCountInString(s) < 4 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// runs are strings whose consecutive slices make weak passwords.
var runs = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"01234567890123456789",
	"qwertyuiopasdfghjklzxcvbnm",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
}

// isSequence reports a password that is one slice of a run, forwards or
// backwards, possibly repeated: "123456789012", "abcdefghijkl", "qwertyuiopas".
func isSequence(s string) bool {
	if len(s) < 4 {
		return false
	}
	rev := []rune(s)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	for _, cand := range []string{s, string(rev)} {
		for _, run := range runs {
			// A run repeated covers passwords that wrap around it.
			if strings.Contains(strings.Repeat(run, 1+len(cand)/len(run)+1), cand) {
				return true
			}
		}
	}
	return false
}
