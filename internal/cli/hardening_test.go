package cli_test

import (
	"strings"
	"testing"
)

// TestSeedRotateChecksEmailAndStatus: --rotate refuses an email that is not
// the seeded admin's, and keeps a disabled admin disabled unless --enable
// (finding 10).
func TestSeedRotateChecksEmailAndStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "root@example.com")

	msg := runFail(t, e.env, 3, "", "users", "seed", "--email", "someone@example.com", "--rotate")
	if !strings.Contains(msg, "someone@example.com") || !strings.Contains(msg, "seeded admin") {
		t.Errorf("rotate with another email: %s", msg)
	}

	runOK(t, e.env, "", "users", "disable", "--email", "root@example.com")
	runOK(t, e.env, "", "users", "seed", "--email", "root@example.com", "--rotate")
	if s := sqlExec(t, e.dbURL, `SELECT status FROM users WHERE email = 'root@example.com'`); s != "disabled" {
		t.Errorf("status after --rotate of a disabled admin = %q, want disabled", s)
	}
	runOK(t, e.env, "", "users", "seed", "--email", "root@example.com", "--rotate", "--enable")
	if s := sqlExec(t, e.dbURL, `SELECT status FROM users WHERE email = 'root@example.com'`); s != "active" {
		t.Errorf("status after --rotate --enable = %q, want active", s)
	}
}

// TestKeysRotateTooSoon: a second staged rotation right after the first
// would activate a key verifiers may not have fetched yet; it is refused
// unless --force (finding 17).
func TestKeysRotateTooSoon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "keys", "rotate")
	msg := runFail(t, e.env, 3, "", "keys", "rotate")
	if !strings.Contains(msg, "--force") {
		t.Errorf("second rotation: %s", msg)
	}
	runOK(t, e.env, "", "keys", "rotate", "--force")
	runOK(t, e.env, "", "keys", "rotate", "--emergency")
}

// TestOutputEscapesInvisibleCharacters: look-alike emails are refused, and
// whatever invisible or bidi character a stored value holds is shown
// escaped in text output (finding 12).
func TestOutputEscapesInvisibleCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	msg := runFail(t, e.env, 2, "", "users", "create", "--email", "ad\u200bmin@example.com")
	if !strings.Contains(msg, "invisible") {
		t.Errorf("zero-width email: %s", msg)
	}
	runFail(t, e.env, 2, "", "users", "create", "--email", "eve@example.com", "--display-name", "Eve \u202eadmin")
	runOK(t, e.env, "", "users", "create", "--email", "eve@example.com", "--display-name", "Eve\u200bAdmin")
	out := runOK(t, e.env, "", "users", "list")
	if strings.Contains(out, "\u200b") || !strings.Contains(out, `Eve\u200bAdmin`) {
		t.Errorf("users list shows the zero-width space unescaped:\n%s", out)
	}
	// Both spellings of one address are one account.
	runOK(t, e.env, "", "users", "create", "--email", "jos\u00e9@b\u00fccher.de")
	msg = runFail(t, e.env, 3, "", "users", "create", "--email", "JOSE\u0301@xn--bcher-kva.de")
	if !strings.Contains(msg, "already exists") {
		t.Errorf("NFD and punycode spelling of an existing account: %s", msg)
	}
}
