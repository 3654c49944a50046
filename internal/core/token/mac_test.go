package token

import (
	"bytes"
	"testing"
)

func TestMAC(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	a, err := NewMAC(secret, "forms")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMAC(secret, "flows")
	sig := a.Sign("binding", "flow-1")
	if !a.Verify(sig, "binding", "flow-1") {
		t.Fatal("a signature does not verify")
	}
	for name, ok := range map[string]bool{
		"other parts":         a.Verify(sig, "binding", "flow-2"),
		"shifted boundary":    a.Verify(a.Sign("ab", "c"), "a", "bc"),
		"other purpose":       b.Verify(sig, "binding", "flow-1"),
		"truncated":           a.Verify(sig[:len(sig)-1], "binding", "flow-1"),
		"not base64":          a.Verify("!!!", "binding", "flow-1"),
		"empty":               a.Verify("", "binding", "flow-1"),
		"padded (non-strict)": a.Verify(sig+"=", "binding", "flow-1"),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewMAC([]byte("short"), "x"); err == nil {
		t.Error("a short secret is accepted")
	}
	if _, err := NewMAC(secret, ""); err == nil {
		t.Error("an empty purpose is accepted")
	}
}
