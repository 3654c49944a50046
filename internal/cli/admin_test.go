package cli_test

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

type seedJSON struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Tenant    string    `json:"tenant"`
	Password  string    `json:"password"`
	ExpiresAt time.Time `json:"expires_at"`
}

type userJSON struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Tenant      string     `json:"tenant"`
	Roles       []string   `json:"roles"`
	Status      string     `json:"status"`
	DisplayName string     `json:"display_name"`
	LastLoginAt *time.Time `json:"last_login_at"`
	LockedUntil *time.Time `json:"locked_until"`
}

func TestUsersSeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	out := runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	golden(t, "users_seed", out)
	if !strings.Contains(out, "Shown once: store it now. It must be changed at first login.") {
		t.Errorf("seed box has no warning:\n%s", out)
	}

	// A second seed of the same tenant is refused, in both formats.
	msg := runFail(t, e.env, 3, "", "users", "seed", "--email", "other@example.com")
	if !strings.Contains(msg, `tenant "default" already has an admin`) || !strings.Contains(msg, "--rotate") {
		t.Errorf("second seed: %s", msg)
	}
	runFail(t, e.env, 3, "", "users", "seed", "--email", "admin@example.com", "--output", "json")

	// JSON holds exactly the five documented keys.
	raw := runJSON[map[string]any](t, e.env, "", "users", "seed", "--email", "root@example.com", "--tenant", "acme")
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"email", "expires_at", "password", "tenant", "user_id"}; !slices.Equal(keys, want) {
		t.Fatalf("seed json keys %v, want %v", keys, want)
	}
	first := runJSON[seedJSON](t, e.env, "", "users", "seed", "--email", "root@example.com", "--tenant", "beta")
	if first.Tenant != "beta" || first.Email != "root@example.com" || len(first.Password) < 12 || first.UserID == "" {
		t.Fatalf("seed json: %+v", first)
	}
	if d := time.Until(first.ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("one-time password expires in %v, want about 24h (seed.password_ttl)", d)
	}

	// --rotate gives the same admin a new password and ends its sessions.
	newSession(t, e, "beta", "root@example.com")
	rotated := runJSON[seedJSON](t, e.env, "", "users", "seed", "--email", "root@example.com", "--tenant", "beta", "--rotate")
	if rotated.UserID != first.UserID || rotated.Password == first.Password || rotated.Password == "" {
		t.Fatalf("rotate: first %+v, rotated %+v", first, rotated)
	}
	if n := liveSessions(t, e); n != 0 {
		t.Errorf("%d live sessions after --rotate, want 0", n)
	}
	golden(t, "users_seed_rotate", runOK(t, e.env, "", "users", "seed", "--email", "root@example.com", "--tenant", "beta", "--rotate"))

	// Nothing to rotate in a tenant without a seeded admin; bad input is a
	// usage error.
	runOK(t, e.env, "", "tenants", "create", "empty")
	runFail(t, e.env, 3, "", "users", "seed", "--email", "x@example.com", "--tenant", "empty", "--rotate")
	runFail(t, e.env, 2, "", "users", "seed", "--email", "not-an-email")
	runFail(t, e.env, 2, "", "users", "seed", "--email", "x@example.com", "--tenant", "Bad_Slug")
}

func TestUsersCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "tenants", "create", "acme")
	const pw = "correct horse battery staple"

	out, stderr, code := run(t, e.env, pw+"\r\n", "users", "create", "--email", "Alice@Example.com", "--password-stdin")
	if code != 0 || stderr != "" {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	golden(t, "users_create", out)
	if strings.Contains(out, pw) {
		t.Fatal("users create echoed the password")
	}

	runOK(t, e.env, "", "roles", "create", "billing", "--tenant", "acme")
	u := runJSON[userJSON](t, e.env, pw, "users", "create", "--email", "bob@example.com", "--tenant", "acme",
		"--role", "admin", "--role", "billing", "--display-name", "Bob B", "--password-stdin")
	if u.Status != "active" || u.Tenant != "acme" || !slices.Equal(u.Roles, []string{"admin", "billing"}) || u.DisplayName != "Bob B" {
		t.Fatalf("create json: %+v", u)
	}

	// Without a password the user is pending and gets an invite.
	golden(t, "users_create_pending", runOK(t, e.env, "", "users", "create", "--email", "carol@example.com"))
	mail, err := os.ReadFile(e.mailPath)
	if err != nil || !strings.Contains(string(mail), `"to":"carol@example.com"`) || !strings.Contains(string(mail), `"kind":"invite"`) {
		t.Fatalf("invite mail: %v %s", err, mail)
	}
	p := runJSON[userJSON](t, e.env, "", "users", "create", "--email", "dave@example.com", "--tenant", "acme")
	if p.Status != "pending" || len(p.Roles) != 0 {
		t.Fatalf("pending user: %+v", p)
	}

	for _, c := range []struct {
		name  string
		code  int
		stdin string
		args  []string
		want  string
	}{
		{"duplicate", 3, pw, []string{"--email", "alice@example.com", "--password-stdin"}, `a user "alice@example.com" already exists in tenant "default"`},
		{"bad email", 2, "", []string{"--email", "not an email"}, "is not a valid address"},
		{"weak password", 2, "short\n", []string{"--email", "weak@example.com", "--password-stdin"}, "at least 12 characters"},
		{"common password", 2, "1qaz2wsx3edc\n", []string{"--email", "weak@example.com", "--password-stdin"}, "commonly used"},
		{"unknown tenant", 3, "", []string{"--email", "x@example.com", "--tenant", "nowhere"}, `tenant "nowhere" not found`},
		{"bad role", 2, "", []string{"--email", "x@example.com", "--role", "Root!"}, "role"},
		{"role not in the catalogue", 2, "", []string{"--email", "x@example.com", "--role", "billing"}, `role "billing" is not in the role catalogue of tenant "default"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, format := range []string{"text", "json"} {
				args := append([]string{"users", "create", "--output", format}, c.args...)
				msg := runFail(t, e.env, c.code, c.stdin, args...)
				if !strings.Contains(msg, c.want) {
					t.Errorf("%s: %s, want it to contain %q", format, msg, c.want)
				}
				if c.stdin != "" && strings.Contains(msg, strings.TrimSpace(c.stdin)) {
					t.Errorf("%s: error shows the password: %s", format, msg)
				}
			}
		})
	}
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com", "--tenant", "acme")
	runOK(t, e.env, "", "roles", "create", "viewer", "--tenant", "default")
	runOK(t, e.env, "long enough password 1", "users", "create", "--email", "zed@example.com", "--role", "viewer", "--password-stdin")
	runOK(t, e.env, "", "users", "create", "--email", "pending@example.com", "--tenant", "acme")

	golden(t, "users_list", runOK(t, e.env, "", "users", "list"))
	golden(t, "users_list_acme", runOK(t, e.env, "", "users", "list", "--tenant", "acme"))

	all := runJSON[map[string][]userJSON](t, e.env, "", "users", "list")
	if len(all) != 1 || len(all["users"]) != 4 {
		t.Fatalf("users list json: %+v", all)
	}
	acme := runJSON[map[string][]userJSON](t, e.env, "", "users", "list", "--tenant", "acme")["users"]
	if len(acme) != 2 || acme[0].Tenant != "acme" || acme[1].Tenant != "acme" {
		t.Fatalf("users list --tenant acme: %+v", acme)
	}
	runFail(t, e.env, 3, "", "users", "list", "--tenant", "nowhere")

	empty := runJSON[map[string][]userJSON](t, newEnv(t).env, "", "users", "list")
	if users, ok := empty["users"]; !ok || users == nil || len(users) != 0 {
		t.Fatalf("empty list must be [] not null: %+v", empty)
	}
}

func TestUsersStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	runOK(t, e.env, "", "users", "create", "--email", "pending@example.com")
	newSession(t, e, "default", "admin@example.com")

	golden(t, "users_disable", runOK(t, e.env, "", "users", "disable", "--email", "admin@example.com"))
	if n := liveSessions(t, e); n != 0 {
		t.Errorf("%d live sessions after disable, want 0", n)
	}
	u := runJSON[userJSON](t, e.env, "", "users", "disable", "--email", "ADMIN@example.com")
	if u.Status != "disabled" || u.Email != "admin@example.com" {
		t.Fatalf("disable json: %+v", u)
	}
	golden(t, "users_enable", runOK(t, e.env, "", "users", "enable", "--email", "admin@example.com"))
	if u := runJSON[userJSON](t, e.env, "", "users", "enable", "--email", "admin@example.com"); u.Status != "active" {
		t.Fatalf("enable json: %+v", u)
	}
	// A pending user becomes active by setting a password, not by enable.
	runFail(t, e.env, 3, "", "users", "enable", "--email", "pending@example.com")

	// A lock (from failed logins, made here directly) shows in the list
	// until unlock clears it.
	sqlExec(t, e.dbURL, `UPDATE users SET locked_until = now() + interval '10 minutes', lock_level = 1
		WHERE email = 'admin@example.com' RETURNING id::text`)
	golden(t, "users_list_locked", runOK(t, e.env, "", "users", "list"))
	locked := runJSON[map[string][]userJSON](t, e.env, "", "users", "list")["users"]
	if locked[0].Email != "admin@example.com" || locked[0].LockedUntil == nil {
		t.Fatalf("locked user: %+v", locked)
	}
	golden(t, "users_unlock", runOK(t, e.env, "", "users", "unlock", "--email", "admin@example.com"))
	runJSON[userJSON](t, e.env, "", "users", "unlock", "--email", "admin@example.com")
	for _, u := range runJSON[map[string][]userJSON](t, e.env, "", "users", "list")["users"] {
		if u.LockedUntil != nil {
			t.Errorf("%s still locked after unlock", u.Email)
		}
	}

	for _, verb := range []string{"disable", "enable", "unlock"} {
		for _, format := range []string{"text", "json"} {
			msg := runFail(t, e.env, 3, "", "users", verb, "--email", "ghost@example.com", "--tenant", "default", "--output", format)
			if !strings.Contains(msg, `no user "ghost@example.com" in tenant "default"`) {
				t.Errorf("%s unknown email (%s): %s", verb, format, msg)
			}
		}
		msg := runFail(t, e.env, 3, "", "users", verb, "--email", "admin@example.com", "--tenant", "nowhere")
		if !strings.Contains(msg, `tenant "nowhere" not found`) {
			t.Errorf("%s unknown tenant: %s", verb, msg)
		}
	}
}

func TestTokensRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com", "--tenant", "acme")
	runOK(t, e.env, "", "users", "create", "--email", "bob@example.com", "--tenant", "acme")

	// By user: only that user's sessions, in the tenant given.
	newSession(t, e, "default", "admin@example.com")
	newSession(t, e, "default", "admin@example.com")
	newSession(t, e, "acme", "admin@example.com")
	golden(t, "tokens_revoke_email", runOK(t, e.env, "", "tokens", "revoke", "--email", "admin@example.com"))
	if n := liveSessions(t, e); n != 1 {
		t.Fatalf("%d live sessions, want the acme one", n)
	}
	res := runJSON[map[string]int](t, e.env, "", "tokens", "revoke", "--email", "admin@example.com", "--tenant", "acme")
	if len(res) != 1 || res["revoked"] != 1 {
		t.Fatalf("revoke --email --tenant json: %v", res)
	}

	// By session id.
	sid := newSession(t, e, "acme", "bob@example.com")
	keep := newSession(t, e, "acme", "bob@example.com")
	golden(t, "tokens_revoke_session", runOK(t, e.env, "", "tokens", "revoke", "--session", sid))
	if res := runJSON[map[string]int](t, e.env, "", "tokens", "revoke", "--session", sid); res["revoked"] != 0 {
		t.Fatalf("revoking a revoked session again: %v", res)
	}
	if n := liveSessions(t, e); n != 1 {
		t.Fatalf("%d live sessions, want %s alone", n, keep)
	}

	// By tenant.
	newSession(t, e, "acme", "admin@example.com")
	newSession(t, e, "default", "admin@example.com")
	golden(t, "tokens_revoke_tenant", runOK(t, e.env, "", "tokens", "revoke", "--tenant", "acme", "--all"))
	if n := liveSessions(t, e); n != 1 {
		t.Fatalf("%d live sessions, want the default tenant's one", n)
	}
	if res := runJSON[map[string]int](t, e.env, "", "tokens", "revoke", "--tenant", "default", "--all"); res["revoked"] != 1 {
		t.Fatalf("revoke --tenant --all json: %v", res)
	}

	for _, c := range []struct {
		code int
		args []string
	}{
		{2, nil},
		{2, []string{"--email", "admin@example.com", "--session", sid}},
		{2, []string{"--session", sid, "--tenant", "acme"}},
		{2, []string{"--session", sid, "--all"}},
		{2, []string{"--email", "admin@example.com", "--all", "--tenant", "acme"}},
		{2, []string{"--tenant", "acme"}},
		{2, []string{"--all"}},
		{2, []string{"--session", "not-a-uuid"}},
		{3, []string{"--session", "00000000-0000-4000-8000-000000000000"}},
		{3, []string{"--email", "ghost@example.com"}},
		{3, []string{"--tenant", "nowhere", "--all"}},
	} {
		for _, format := range []string{"text", "json"} {
			args := append([]string{"tokens", "revoke", "--output", format}, c.args...)
			runFail(t, e.env, c.code, "", args...)
		}
	}
}

func TestTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	golden(t, "tenants_create", runOK(t, e.env, "", "tenants", "create", "acme", "--name", "Acme Inc."))
	type tenantJSON struct {
		ID        string    `json:"id"`
		Slug      string    `json:"slug"`
		Name      string    `json:"name"`
		Status    string    `json:"status"`
		CreatedAt time.Time `json:"created_at"`
	}
	beta := runJSON[tenantJSON](t, e.env, "", "tenants", "create", "beta")
	if beta.Slug != "beta" || beta.Name != "beta" || beta.Status != "active" || beta.ID == "" || beta.CreatedAt.IsZero() {
		t.Fatalf("tenants create json: %+v", beta)
	}
	golden(t, "tenants_list", runOK(t, e.env, "", "tenants", "list"))

	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com", "--tenant", "acme")
	newSession(t, e, "acme", "admin@example.com")
	golden(t, "tenants_disable", runOK(t, e.env, "", "tenants", "disable", "acme"))
	if n := liveSessions(t, e); n != 0 {
		t.Errorf("%d live sessions after tenants disable, want 0", n)
	}
	if d := runJSON[tenantJSON](t, e.env, "", "tenants", "disable", "beta"); d.Status != "disabled" {
		t.Fatalf("tenants disable json: %+v", d)
	}
	list := runJSON[map[string][]tenantJSON](t, e.env, "", "tenants", "list")["tenants"]
	if len(list) != 3 || list[0].Slug != "acme" || list[0].Status != "disabled" || list[0].Name != "Acme Inc." {
		t.Fatalf("tenants list json: %+v", list)
	}
	// A disabled tenant takes no new users.
	runFail(t, e.env, 3, "", "users", "create", "--email", "x@example.com", "--tenant", "acme")

	for _, format := range []string{"text", "json"} {
		msg := runFail(t, e.env, 2, "", "tenants", "create", "Bad_Slug", "--output", format)
		if !strings.Contains(msg, "Bad_Slug") || !strings.Contains(msg, "lowercase") {
			t.Errorf("bad slug: %s", msg)
		}
		msg = runFail(t, e.env, 3, "", "tenants", "create", "acme", "--output", format)
		if !strings.Contains(msg, `tenant "acme" already exists`) {
			t.Errorf("duplicate: %s", msg)
		}
		msg = runFail(t, e.env, 3, "", "tenants", "disable", "nowhere", "--output", format)
		if !strings.Contains(msg, `tenant "nowhere" not found`) {
			t.Errorf("unknown: %s", msg)
		}
	}

	// migrate up makes the default tenant, so users can be created at once.
	fresh := newEnv(t)
	golden(t, "tenants_list_fresh", runOK(t, fresh.env, "", "tenants", "list"))
	l := runJSON[map[string][]tenantJSON](t, fresh.env, "", "tenants", "list")["tenants"]
	if len(l) != 1 || l[0].Slug != "default" || l[0].Status != "active" {
		t.Fatalf("tenants after migrate up: %+v", l)
	}
	runOK(t, fresh.env, "", "users", "create", "--email", "first@example.com")
}

type keyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Published   bool       `json:"published"`
}

type rotateJSON struct {
	Retired   string `json:"retired"`
	Active    string `json:"active"`
	Next      string `json:"next"`
	Emergency bool   `json:"emergency"`
	Keys      []struct {
		Alg     string `json:"alg"`
		Retired string `json:"retired"`
		Active  string `json:"active"`
		Next    string `json:"next"`
	} `json:"keys"`
}

func TestKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keys := func() []keyJSON {
		t.Helper()
		return runJSON[map[string][]keyJSON](t, e.env, "", "keys", "list")["keys"]
	}
	states := func(ks []keyJSON) (s []string) {
		for _, k := range ks {
			s = append(s, k.Alg+" "+k.State)
		}
		return s
	}

	// migrate up made the active and the next key of each algorithm.
	golden(t, "keys_list", runOK(t, e.env, "", "keys", "list"))
	before := keys()
	if !slices.Equal(states(before), []string{"EdDSA active", "EdDSA next", "RS256 active", "RS256 next"}) {
		t.Fatalf("keys after migrate: %+v", before)
	}

	golden(t, "keys_rotate", runOK(t, e.env, "", "keys", "rotate"))
	after := keys()
	if !slices.Equal(states(after), []string{"EdDSA active", "EdDSA next", "EdDSA retired", "RS256 active", "RS256 next", "RS256 retired"}) {
		t.Fatalf("keys after rotate: %+v", after)
	}
	for _, i := range []int{0, 2} {
		b, a := before[i:i+2], after[i/2*3:i/2*3+3]
		if a[0].KID != b[1].KID || a[2].KID != b[0].KID {
			t.Errorf("%s: rotate must promote next (%s) and retire active (%s): %+v", b[0].Alg, b[1].KID, b[0].KID, a)
		}
		if r := a[2]; !r.Published || r.RetiredAt == nil || r.ExpiresAt == nil || !r.ExpiresAt.After(time.Now()) {
			t.Errorf("a staged rotation keeps the retired key published until its tokens expire: %+v", r)
		}
	}
	golden(t, "keys_list_rotated", runOK(t, e.env, "", "keys", "list"))

	res := runJSON[rotateJSON](t, e.env, "", "keys", "rotate", "--emergency")
	final := keys()
	if !res.Emergency || len(res.Keys) != 2 || res.Keys[0].Alg != "EdDSA" || res.Keys[1].Alg != "RS256" {
		t.Fatalf("emergency rotate json: %+v", res)
	}
	// The top-level fields are the EdDSA keys, as before RS256 existed.
	if res.Retired != res.Keys[0].Retired || res.Active != res.Keys[0].Active || res.Next != res.Keys[0].Next {
		t.Errorf("emergency rotate json: top level %+v is not the EdDSA rotation %+v", res, res.Keys[0])
	}
	for _, r := range res.Keys {
		for _, k := range final {
			if k.KID == r.Retired && (k.Published || k.Alg != r.Alg) {
				t.Errorf("an emergency rotation unpublishes the retired %s key at once: %+v", r.Alg, k)
			}
			if k.KID == r.Active && (k.State != "active" || k.Alg != r.Alg) || k.KID == r.Next && (k.State != "next" || k.Alg != r.Alg) {
				t.Errorf("%s rotation %+v, key %+v", r.Alg, r, k)
			}
		}
	}
	golden(t, "keys_rotate_emergency", runOK(t, e.env, "", "keys", "rotate", "--emergency"))
	golden(t, "keys_list_emergency", runOK(t, e.env, "", "keys", "list"))
}

type auditJSON struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor"`
	SubjectID *string   `json:"subject_id"`
	Email     string    `json:"email"`
	Tenant    string    `json:"tenant"`
}

func TestAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	runOK(t, e.env, "", "tenants", "create", "acme")
	runOK(t, e.env, "", "users", "create", "--email", "bob@example.com", "--tenant", "acme")
	runOK(t, e.env, "", "users", "disable", "--email", "bob@example.com", "--tenant", "acme")

	golden(t, "audit_list", runOK(t, e.env, "", "audit", "list"))
	all := runJSON[map[string][]auditJSON](t, e.env, "", "audit", "list")["events"]
	var names []string
	for _, ev := range all {
		names = append(names, ev.Event)
	}
	// Newest first: migrate up made four keys (EdDSA and RS256, active and
	// next), then the commands above.
	want := []string{"user_disable", "user_create", "tenant_create", "user_seed", "tenant_create", "key_create", "key_create", "key_create", "key_create"}
	if !slices.Equal(names, want) {
		t.Fatalf("audit events %v, want %v", names, want)
	}
	if ev := all[0]; ev.Actor != "cli" || ev.Outcome != "success" || ev.Email != "bob@example.com" || ev.Tenant != "acme" || ev.SubjectID == nil {
		t.Errorf("audit event: %+v", ev)
	}
	raw := runJSON[map[string][]map[string]any](t, e.env, "", "audit", "list", "--limit", "1")["events"]
	if len(raw) != 1 {
		t.Fatalf("--limit 1: %d events", len(raw))
	}
	for _, k := range []string{"id", "time", "event", "outcome", "reason", "actor", "subject_id", "email", "tenant_id", "tenant", "session_id", "client_ip", "user_agent", "client_id", "request_id"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("audit json has no %q: %v", k, raw[0])
		}
	}

	bob := runJSON[map[string][]auditJSON](t, e.env, "", "audit", "list", "--email", "BOB@example.com")["events"]
	if len(bob) != 2 || bob[0].Event != "user_disable" || bob[1].Event != "user_create" {
		t.Fatalf("--email: %+v", bob)
	}
	golden(t, "audit_list_email", runOK(t, e.env, "", "audit", "list", "--email", "bob@example.com"))
	if acme := runJSON[map[string][]auditJSON](t, e.env, "", "audit", "list", "--tenant", "acme")["events"]; len(acme) != 3 {
		t.Fatalf("--tenant acme: %+v", acme)
	}
	if recent := runJSON[map[string][]auditJSON](t, e.env, "", "audit", "list", "--since", "1h")["events"]; len(recent) != len(all) {
		t.Fatalf("--since 1h: %d events, want %d", len(recent), len(all))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if none := runJSON[map[string][]auditJSON](t, e.env, "", "audit", "list", "--since", future)["events"]; len(none) != 0 {
		t.Fatalf("--since %s: %+v", future, none)
	}
	golden(t, "audit_list_none", runOK(t, e.env, "", "audit", "list", "--since", future))

	for _, format := range []string{"text", "json"} {
		runFail(t, e.env, 2, "", "audit", "list", "--since", "last tuesday", "--output", format)
		runFail(t, e.env, 2, "", "audit", "list", "--limit", "5000", "--output", format)
		runFail(t, e.env, 3, "", "audit", "list", "--tenant", "nowhere", "--output", format)
	}
}

// TestRoles: `idp roles` manages one tenant's catalogue; admin is built in
// and stays; a role somebody holds is not deleted; every change is in the
// audit log with the CLI as actor.
func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "tenants", "create", "acme")
	golden(t, "roles_create", runOK(t, e.env, "", "roles", "create", "member", "--tenant", "acme", "--description", "Signs in to the apps"))
	r := runJSON[map[string]any](t, e.env, "", "roles", "create", "reports:read", "--tenant", "acme")
	if r["name"] != "reports:read" || r["builtin"] != false || r["holders"] != float64(0) {
		t.Fatalf("create json: %v", r)
	}
	runOK(t, e.env, "long enough password 1", "users", "create", "--email", "ann@example.com", "--tenant", "acme", "--role", "member", "--password-stdin")
	out := runOK(t, e.env, "", "roles", "list", "--tenant", "acme")
	golden(t, "roles_list", out)
	list := runJSON[map[string][]map[string]any](t, e.env, "", "roles", "list", "--tenant", "acme")["roles"]
	if len(list) != 3 || list[0]["name"] != "admin" || list[0]["builtin"] != true || list[1]["holders"] != float64(1) {
		t.Fatalf("list json: %v", list)
	}
	// The default tenant has its own catalogue: admin only.
	if d := runJSON[map[string][]map[string]any](t, e.env, "", "roles", "list", "--tenant", "default")["roles"]; len(d) != 1 {
		t.Fatalf("default tenant's catalogue: %v", d)
	}

	for _, c := range []struct {
		name string
		code int
		args []string
		want string
	}{
		{"delete admin", 3, []string{"roles", "delete", "admin", "--tenant", "acme"}, "can't be deleted"},
		{"delete a role in use", 3, []string{"roles", "delete", "member", "--tenant", "acme"}, "1 user holds it"},
		{"delete unknown", 3, []string{"roles", "delete", "ghost", "--tenant", "acme"}, `tenant "acme" has no role "ghost"`},
		{"duplicate", 3, []string{"roles", "create", "member", "--tenant", "acme"}, "already has a role"},
		{"bad name", 2, []string{"roles", "create", "Member", "--tenant", "acme"}, "is not valid"},
		{"unknown tenant", 3, []string{"roles", "list", "--tenant", "nowhere"}, `tenant "nowhere" not found`},
		{"no tenant", 2, []string{"roles", "list"}, "tenant"},
		{"no name", 2, []string{"roles", "delete", "--tenant", "acme"}, "arg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if msg := runFail(t, e.env, c.code, "", c.args...); !strings.Contains(msg, c.want) {
				t.Errorf("%s, want it to contain %q", msg, c.want)
			}
		})
	}
	golden(t, "roles_delete", runOK(t, e.env, "", "roles", "delete", "reports:read", "--tenant", "acme"))
	runOK(t, e.env, "", "roles", "create", "temp", "--tenant", "acme")
	if d := runJSON[map[string]string](t, e.env, "", "roles", "delete", "temp", "--tenant", "acme"); d["deleted"] != "temp" || d["tenant"] != "acme" {
		t.Fatalf("delete json: %v", d)
	}
	events := runJSON[map[string][]map[string]any](t, e.env, "", "audit", "list", "--tenant", "acme")["events"]
	counts := map[string]int{}
	for _, ev := range events {
		if ev["actor"] == "cli" {
			counts[ev["event"].(string)+":"+ev["reason"].(string)]++
		}
	}
	for _, k := range []string{"role_create:member", "role_create:reports:read", "role_delete:reports:read", "role_create:temp", "role_delete:temp"} {
		if counts[k] != 1 {
			t.Errorf("audit rows %s by the CLI: %d, want 1 (%v)", k, counts[k], counts)
		}
	}
}
