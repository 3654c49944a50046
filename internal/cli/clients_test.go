package cli_test

import (
	"crypto/sha256"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type clientJSON struct {
	ClientID               string    `json:"client_id"`
	ClientSecret           string    `json:"client_secret"`
	Name                   string    `json:"name"`
	Tenant                 string    `json:"tenant"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Public                 bool      `json:"public"`
	FirstParty             bool      `json:"first_party"`
	Scopes                 []string  `json:"scopes"`
	GrantTypes             []string  `json:"grant_types"`
	IDTokenAlg             string    `json:"id_token_alg"`
	CORSOrigins            []string  `json:"cors_origins"`
	Status                 string    `json:"status"`
	CreatedAt              time.Time `json:"created_at"`
}

// maskClient replaces a client id (22 characters) by a placeholder of the
// same width, for golden files.
func maskClient(s, id string) string { return strings.ReplaceAll(s, id, "<client-id>***********") }

func TestClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Text: the secret in a box with its warning, once.
	out := runOK(t, e.env, "", "clients", "create", "--name", "Grafana", "--redirect-uri", "https://grafana.example/login/generic_oauth",
		"--post-logout-redirect-uri", "https://grafana.example/", "--first-party")
	m := regexp.MustCompile(`Client ID\W+([A-Za-z0-9_-]{22})\b`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no client id in:\n%s", out)
	}
	id := m[1]
	golden(t, "clients_create", maskClient(out, id))
	if !strings.Contains(out, "Shown once") {
		t.Errorf("no warning with the secret:\n%s", out)
	}

	// JSON has CONTRACT 7's keys, the secret once, stored as its SHA-256.
	raw := runJSON[map[string]any](t, e.env, "", "clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb", "--output", "json")
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range []string{"client_id", "client_secret", "name", "tenant", "redirect_uris", "post_logout_redirect_uris", "public",
		"first_party", "scopes", "id_token_alg"} {
		if !slices.Contains(keys, k) {
			t.Errorf("clients create json lacks %s: %v", k, keys)
		}
	}
	app := runJSON[clientJSON](t, e.env, "", "clients", "show", raw["client_id"].(string))
	if app.ClientSecret != "" || app.Name != "App" || app.Tenant != "default" || app.Public || app.IDTokenAlg != "EdDSA" {
		t.Fatalf("clients show: %+v", app)
	}
	sum := sha256.Sum256([]byte(raw["client_secret"].(string)))
	if n := sqlExec(t, e.dbURL, `SELECT count(*)::text FROM oauth_clients WHERE id = $1 AND secret_hash = $2`, app.ClientID, sum[:]); n != "1" {
		t.Fatal("the secret is not stored as its SHA-256")
	}

	// A public SPA with RS256, its own scopes and CORS origin.
	spa := runJSON[clientJSON](t, e.env, "", "clients", "create", "--name", "SPA", "--public", "--redirect-uri", "http://127.0.0.1:5173/cb",
		"--scope", "openid", "--scope", "email", "--id-token-alg", "RS256", "--cors-origin", "https://spa.example", "--no-refresh", "--output", "json")
	if spa.ClientSecret != "" || !spa.Public || spa.IDTokenAlg != "RS256" || !slices.Equal(spa.Scopes, []string{"openid", "email"}) ||
		!slices.Equal(spa.CORSOrigins, []string{"https://spa.example"}) || !slices.Equal(spa.GrantTypes, []string{"authorization_code"}) {
		t.Fatalf("public client: %+v", spa)
	}
	runFail(t, e.env, 3, "", "clients", "rotate-secret", spa.ClientID)

	// update changes what it names; a list flag replaces the list.
	up := runJSON[clientJSON](t, e.env, "", "clients", "update", app.ClientID, "--name", "App 2", "--redirect-uri", "https://app2.example/cb",
		"--redirect-uri", "http://localhost:3000/cb", "--output", "json")
	if up.Name != "App 2" || !slices.Equal(up.RedirectURIs, []string{"https://app2.example/cb", "http://localhost:3000/cb"}) ||
		up.IDTokenAlg != "EdDSA" || !slices.Equal(up.CORSOrigins, []string{"https://app2.example", "http://localhost:3000"}) {
		t.Fatalf("clients update: %+v", up)
	}

	// rotate-secret: a new secret once, the old hash gone.
	rot := runJSON[clientJSON](t, e.env, "", "clients", "rotate-secret", app.ClientID, "--output", "json")
	if rot.ClientSecret == "" || rot.ClientSecret == raw["client_secret"] {
		t.Fatalf("rotate-secret: %+v", rot)
	}
	if n := sqlExec(t, e.dbURL, `SELECT count(*)::text FROM oauth_clients WHERE secret_hash = $1`, sum[:]); n != "0" {
		t.Error("the old secret still works")
	}

	if d := runJSON[clientJSON](t, e.env, "", "clients", "disable", app.ClientID, "--output", "json"); d.Status != "disabled" {
		t.Fatalf("disable: %+v", d)
	}
	if d := runJSON[clientJSON](t, e.env, "", "clients", "enable", app.ClientID, "--output", "json"); d.Status != "active" {
		t.Fatalf("enable: %+v", d)
	}
	list := runJSON[map[string][]clientJSON](t, e.env, "", "clients", "list")["clients"]
	if len(list) != 3 {
		t.Fatalf("clients list: %d clients", len(list))
	}
	for _, c := range list {
		if c.ClientSecret != "" {
			t.Error("clients list shows a secret")
		}
	}
	runOK(t, e.env, "", "tenants", "create", "acme")
	if l := runJSON[map[string][]clientJSON](t, e.env, "", "clients", "list", "--tenant", "acme")["clients"]; len(l) != 0 {
		t.Errorf("acme's clients: %+v", l)
	}
	runOK(t, e.env, "", "clients", "delete", spa.ClientID)

	// Bad input: one error line naming the problem, in both formats, and
	// nothing stored.
	for _, format := range []string{"text", "json"} {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"create", "--name", "X", "--redirect-uri", "http://app.example/cb"}, 2, "must use https"},
			{[]string{"create", "--name", "X", "--redirect-uri", "https://app.example/cb#x"}, 2, "fragment"},
			{[]string{"create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--scope", "address"}, 2, `scope "address" is not supported`},
			{[]string{"create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"}, 2, "EdDSA or RS256"},
			{[]string{"create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--tenant", "nowhere"}, 3, `tenant "nowhere" not found`},
			{[]string{"show", "nope"}, 3, `client "nope" not found`},
			{[]string{"delete", spa.ClientID}, 3, "not found"},
		} {
			msg := runFail(t, e.env, tc.code, "", append(append([]string{"clients"}, tc.args...), "--output", format)...)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("clients %v (%s): %s, want %q", tc.args, format, msg, tc.want)
			}
		}
	}
	if n := sqlExec(t, e.dbURL, `SELECT count(*)::text FROM oauth_clients`); n != "2" {
		t.Errorf("%s clients stored, want 2", n)
	}
	if n, _ := strconv.Atoi(sqlExec(t, e.dbURL, `SELECT count(*)::text FROM user_login_events WHERE event LIKE 'client_%' AND actor = 'cli'`)); n < 8 {
		t.Errorf("%d client events audited with actor cli, want create x4, update, rotate, disable, enable, delete", n)
	}
}
