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
