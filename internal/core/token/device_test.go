package token

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDeviceTokens(t *testing.T) {
	d, err := NewDeviceTokens(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewDeviceTokens(bytes.Repeat([]byte("o"), 32))
	now := time.Unix(1_800_000_000, 0)
	const account, ttl = "default\x00alice@example.com", 90 * 24 * time.Hour
	tok := d.Issue(account, now)
	id, ok := d.Verify(tok, account, now.Add(time.Hour), ttl)
	if !ok || id == "" {
		t.Fatalf("a fresh token is refused: %q", tok)
	}
	if id2, _ := d.Verify(tok, account, now.Add(2*time.Hour), ttl); id2 != id {
		t.Errorf("id changed between checks: %q, %q", id, id2)
	}
	if strings.Contains(tok, "alice") {
		t.Errorf("the token shows its account: %s", tok)
	}
	if d.Issue(account, now) == tok {
		t.Error("two tokens are equal")
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name, tok, account string
		at                 time.Time
	}{
		{"other account", tok, "default\x00mallory@example.com", now},
		{"other tenant", tok, "acme\x00alice@example.com", now},
		{"expired", tok, account, now.Add(ttl + time.Second)},
		{"issued in the future", tok, account, now.Add(-2 * time.Minute)},
		{"other key", other.Issue(account, now), account, now},
		{"altered id", flip(tok, 5), account, now},
		{"altered time", flip(tok, len(devicePrefix)+23), account, now},
		{"altered mac", flip(tok, len(tok)-2), account, now},
		{"truncated", tok[:len(tok)-1], account, now},
		{"no prefix", tok[len(devicePrefix):], account, now},
		{"empty", "", account, now},
		{"huge", devicePrefix + strings.Repeat("A", 10000), account, now},
		{"padding", tok + "=", account, now},
	}
	for _, tt := range tests {
		if _, ok := d.Verify(tt.tok, tt.account, tt.at, ttl); ok {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := NewDeviceTokens([]byte("short")); err == nil {
		t.Error("a short secret is accepted")
	}
}
