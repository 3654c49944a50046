package core

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes s safe to store and show: the result is always valid UTF-8
// (PostgreSQL refuses anything else, and a failed audit write once changed
// the answer a client got), and control, format (bidi, zero-width) and line
// or paragraph separator characters become Go-style escapes, so input can't
// forge audit rows, log lines or CLI tables, nor hide inside them. Invalid
// bytes become \xNN.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&0xf, 16))
		case hidden(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			if s[i] < 0x20 || s[i] == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || hidden(r) {
			return true
		}
		i += size
	}
	return false
}

// hidden reports characters that change how text around them looks, or are
// not seen at all: controls (Cc), format characters (Cf: bidi overrides,
// zero-width joiners, soft hyphens), line and paragraph separators, and the
// other default-ignorable code points.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence or an
// escape that Escape wrote.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	s = s[:n]
	// Don't leave half an escape such as `\u20` behind.
	if i := strings.LastIndexByte(s, '\\'); i >= 0 && i >= len(s)-10 {
		if tail := s[i:]; !completeEscape(tail) {
			s = s[:i]
		}
	}
	return s
}

func completeEscape(tail string) bool {
	if len(tail) < 2 {
		return false
	}
	want := map[byte]int{'x': 4, 'u': 6, 'U': 10}[tail[1]]
	if want == 0 {
		return true // \n, \t and friends are two bytes
	}
	return len(tail) >= want
}

// Clean is what every string from the network goes through before it is
// stored: escaped once, then clipped to n bytes.
func Clean(s string, n int) string { return Clip(Escape(s), n) }

// digestHex names input that must not be stored as it came: 128 bits of
// SHA-256, enough to tell two values apart and to group repeats.
func digestHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
