package server_test

// Tests for the findings of the independent review (docs/security/
// auth-threat-model.md, "Review findings"): each one failed on the code the
// review ran against.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/server"
)

// hostileValues are inputs that once broke audit writes or leaked through
// to CLI output: invalid UTF-8, C1 controls, a value whose escaping grows
// past a column's limit and ends in the middle of a character, and 4-byte
// characters.
var hostileValues = []struct{ name, v string }{
	{"invalid utf-8", "\xff"},
	{"C1 controls", "a\u0085b\u009bc"},
	{"tabs then multibyte", "a" + strings.Repeat("\t", 255) + "éééé"},
	{"4-byte characters", "𝒜😀"},
}

// waitMail waits for the newest mail of kind to the address: delivery
// leaves the request path through the outbox, so it lands a moment later.
func waitMail(t testing.TB, env *testEnv, to, kind string) core.Mail {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m, ok := env.Mail.Last(to, kind); ok {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s mail to %s within 5s", kind, to)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hiddenField reads the value of a hidden input from a page.
func hiddenField(t testing.TB, page response, name string) string {
	t.Helper()
	input := regexp.MustCompile(`<input[^>]*\bname="` + regexp.QuoteMeta(name) + `"[^>]*>`).Find(page.Body)
	m := regexp.MustCompile(`\bvalue="([^"]*)"`).FindSubmatch(input)
	if m == nil {
		t.Fatalf("no hidden field %q in %s", name, page.Body)
	}
	return html.UnescapeString(string(m[1]))
}

// cookiesOf is a Cookie header carrying the cookies a response set (the
// Go cookie jar keeps Secure cookies off plain http).
func cookiesOf(r response) string {
	var parts []string
	for _, c := range r.Cookies() {
		if c.MaxAge >= 0 {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// internalNames are messages that once named internal objects in responses.
var internalNames = regexp.MustCompile(`invalid (audit event|session|user|refresh token|reset token|tenant)\b`)

// comparable reduces a response to what must not depend on the hostile
// input: status, and the body with per-request values (tokens, times,
// ids) replaced by their JSON type.
func comparable(t testing.TB, r response) string {
	t.Helper()
	if internalNames.Match(r.Body) {
		t.Errorf("response names an internal object: %s", r.Body)
	}
	if len(r.Body) == 0 || r.Header.Get("Content-Type") != "application/json" {
		return http.StatusText(r.StatusCode) + " " + r.Header.Get("Content-Type") + " " + string(r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	for k, v := range m {
		switch k {
		case "error", "error_description", "status", "token_type", "password_change_required":
		default:
			if _, ok := v.(string); ok {
				m[k] = "<string>"
			} else if _, ok := v.(float64); ok {
				m[k] = "<number>"
			}
		}
	}
	b, _ := json.Marshal(m)
	return http.StatusText(r.StatusCode) + " " + string(b)
}

func auditTotal(t testing.TB, env *testEnv, event string) int {
	t.Helper()
	return sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = $1`, event)
}

// TestHardeningHostileHeaders: hostile User-Agent and X-Request-Id values
// get exactly the answer a clean request gets, on every endpoint, and the
// audit row is written (finding 1).
func TestHardeningHostileHeaders(t *testing.T) {
	env := newContractEnv(t, nil)
	ts := env.TS
	ctx := context.Background()
	n := 0
	// fresh makes a new active user and logs it in, so every call below
	// starts from the same state.
	fresh := func() (string, core.TokenResponse) {
		n++
		email := fmt.Sprintf("hostile%d@example.com", n)
		createUser(t, env, "", email)
		return email, loginOK(t, ts, "", email, testPassword)
	}
	resetToken := func(email string) string {
		wantStatus(t, do(t, ts, "POST", initiateURL, map[string]string{"email": email}), http.StatusAccepted)
		m := waitMail(t, env, email, core.MailPasswordReset)
		u, err := url.Parse(m.URL)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("token")
	}
	type call struct {
		name  string
		event string
		send  func(headers ...string) response
	}
	calls := []call{
		{"token JSON, right password", core.EventLoginSuccess, func(h ...string) response {
			email, _ := fresh()
			return loginAs(t, ts, "", email, testPassword, h...)
		}},
		{"token JSON, wrong password", core.EventLoginFailure, func(h ...string) response {
			email, _ := fresh()
			return loginAs(t, ts, "", email, "wrong password, quite long", h...)
		}},
		{"token form, password grant", core.EventLoginSuccess, func(h ...string) response {
			email, _ := fresh()
			form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {testPassword}, "client_id": {"cli-app"}}
			return do(t, ts, "POST", tokenURL, form.Encode(), append(h, "Content-Type", "application/x-www-form-urlencoded")...)
		}},
		{"refresh", core.EventRefresh, func(h ...string) response {
			_, tr := fresh()
			return do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": tr.RefreshToken}, h...)
		}},
		{"logout", core.EventLogout, func(h ...string) response {
			_, tr := fresh()
			return do(t, ts, "POST", logoutURL, map[string]string{"refresh_token": tr.RefreshToken}, h...)
		}},
		{"reset initiate", core.EventResetInitiate, func(h ...string) response {
			email, _ := fresh()
			return do(t, ts, "POST", initiateURL, map[string]string{"email": email}, h...)
		}},
		{"reset complete", core.EventResetComplete, func(h ...string) response {
			email, _ := fresh()
			tok := resetToken(email)
			return do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": "a brand new passphrase"}, h...)
		}},
		{"password change", core.EventPasswordChange, func(h ...string) response {
			_, tr := fresh()
			return do(t, ts, "POST", changeURL, map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"},
				append(h, "Authorization", bearer(tr.AccessToken))...)
		}},
		{"register", core.EventRegister, func(h ...string) response {
			tr := loginOK(t, ts, "", testAdmin, testPassword)
			n++
			email := fmt.Sprintf("registered%d@example.com", n)
			return do(t, ts, "POST", registerURL, map[string]any{"email": email, "password": "a brand new passphrase"},
				append(h, "Authorization", bearer(tr.AccessToken))...)
		}},
		{"hosted reset form", core.EventResetComplete, func(h ...string) response {
			email, _ := fresh()
			tok := resetToken(email)
			page := do(t, ts, "GET", "/password/reset?token="+tok, nil)
			form := url.Values{"token": {tok}, "new_password": {"a brand new passphrase"}, "confirm_password": {"a brand new passphrase"},
				"csrf": {hiddenField(t, page, "csrf")}}
			r := do(t, ts, "POST", "/password/reset", form.Encode(), append(h, "Content-Type", "application/x-www-form-urlencoded",
				"Cookie", cookiesOf(page))...)
			// The page is HTML: compare status and whether it says done.
			r.Body = []byte(fmt.Sprintf("done=%v", strings.Contains(string(r.Body), resetDoneText)))
			return r
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			clean := comparable(t, c.send("User-Agent", "test-agent/1.0"))
			for _, field := range []string{"User-Agent", "X-Request-Id"} {
				for _, hv := range hostileValues {
					before := auditTotal(t, env, c.event)
					got := comparable(t, c.send(field, hv.v))
					if got != clean {
						t.Errorf("%s %s: answer\n  %s\nwant the clean answer\n  %s", field, hv.name, got, clean)
					}
					if after := auditTotal(t, env, c.event); after <= before {
						t.Errorf("%s %s: no %s audit row was written", field, hv.name, c.event)
					}
				}
			}
		})
	}
	_ = ctx
}

// resetDoneText is what the hosted reset page says once the password is set.
const resetDoneText = "Your password is set"

// TestHardeningHostileBodyFields: hostile email, tenant and client_id get
// one answer whether the account exists or not (and whatever the
// password), and the attempt is audited (findings 1 and 3).
func TestHardeningHostileBodyFields(t *testing.T) {
	env := newContractEnv(t, nil)
	ts := env.TS
	type variant struct{ email, password, tenant, clientID string }
	login := func(v variant) response {
		form := url.Values{"grant_type": {"password"}, "username": {v.email}, "password": {v.password}}
		if v.tenant != "" {
			form.Set("tenant", v.tenant)
		}
		if v.clientID != "" {
			form.Set("client_id", v.clientID)
		}
		return do(t, ts, "POST", tokenURL, form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	initiate := func(v variant) response {
		body := map[string]string{"email": v.email}
		if v.tenant != "" {
			body["tenant"] = v.tenant
		}
		return do(t, ts, "POST", initiateURL, body)
	}
	for _, hv := range hostileValues {
		cases := []struct {
			field    string
			event    string
			send     func(variant) response
			variants []variant
		}{
			{"email", core.EventLoginFailure, login, []variant{
				{email: testUser + hv.v, password: testPassword},
				{email: testUser + hv.v, password: "wrong password, quite long"},
				{email: "nobody@example.com" + hv.v, password: testPassword},
				{email: hv.v + "@example.com", password: testPassword},
			}},
			{"tenant", core.EventLoginFailure, login, []variant{
				{email: testUser, password: testPassword, tenant: hv.v},
				{email: "nobody@example.com", password: testPassword, tenant: hv.v},
			}},
			{"client_id", core.EventLoginFailure, login, []variant{
				{email: testUser, password: testPassword, clientID: hv.v},
				{email: "nobody@example.com", password: testPassword, clientID: hv.v},
			}},
			{"reset email", core.EventResetInitiate, initiate, []variant{
				{email: testUser + hv.v}, {email: "nobody@example.com" + hv.v},
			}},
			{"reset tenant", core.EventResetInitiate, initiate, []variant{
				{email: testUser, tenant: hv.v}, {email: "nobody@example.com", tenant: hv.v},
			}},
		}
		for _, c := range cases {
			t.Run(c.field+"/"+hv.name, func(t *testing.T) {
				var first string
				for i, v := range c.variants {
					before := auditTotal(t, env, c.event)
					got := comparable(t, c.send(v))
					if i == 0 {
						first = got
					} else if got != first {
						t.Errorf("variant %d answers\n  %s\nbut variant 0\n  %s", i, got, first)
					}
					if auditTotal(t, env, c.event) <= before {
						t.Errorf("variant %d: no %s audit row", i, c.event)
					}
				}
			})
		}
	}
	if _, ok := env.Mail.Last(testUser, core.MailPasswordReset); ok {
		t.Errorf("a reset mail went out for a hostile spelling of an existing email")
	}
}

// TestHardeningAuditVolumeBounded: one IP at full speed writes a bounded
// number of audit rows, whatever it sends (finding 3).
func TestHardeningAuditVolumeBounded(t *testing.T) {
	const perMinute = 20
	env := newContractEnv(t, func(c *core.Config, _ *server.Options) { c.IPPerMinute = perMinute })
	ts := env.TS
	before := sqlInt(t, env, `SELECT count(*) FROM user_login_events`)
	long := strings.Repeat("a", 60<<10-100) + "@example.com"
	for i := range 150 {
		switch i % 3 {
		case 0:
			loginAs(t, ts, "", testUser, "wrong password, quite long")
		case 1:
			do(t, ts, "POST", tokenURL, map[string]string{"email": long[:40<<10], "password": "x", "tenant": strings.Repeat("t", 10<<10)})
		case 2:
			do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": strings.Repeat("r", 600)})
		}
	}
	rows := sqlInt(t, env, `SELECT count(*) FROM user_login_events`) - before
	// Per endpoint: the requests the per-IP limit lets through, plus one
	// aggregated row per throttled key and window (token: the IP and the
	// account; refresh: the IP). A window may roll over during the test.
	if limit := 2*perMinute + 2*3; rows > limit {
		t.Errorf("150 requests from one IP wrote %d audit rows, want at most %d", rows, limit)
	}
	if n := sqlInt(t, env, `SELECT coalesce(max(octet_length(subject_email)), 0) + coalesce(max(octet_length(tenant_slug)), 0) FROM user_login_events`); n > 320+63 {
		t.Errorf("an audit row holds %d bytes of email and tenant", n)
	}
	r := do(t, ts, "POST", tokenURL, map[string]string{"email": long, "password": "x"}, "X-Forwarded-For", "192.0.2.9")
	if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a 60 KB email: status %d, want 400 or 429", r.StatusCode)
	}
}

// TestHardeningOneTimePasswordSession: a session opened with a one-time
// password carries no roles, says a change is pending, and ends with the
// password (finding 4).
func TestHardeningOneTimePasswordSession(t *testing.T) {
	env := newContractEnv(t, nil)
	ctx := context.Background()
	seed, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "otp", Email: "root@example.com", Rotate: false}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	tr := loginOK(t, env.TS, "otp", seed.Email, seed.Password)
	_, claims := jwtSegments(t, tr.AccessToken)
	if roles, _ := claims["roles"].([]any); len(roles) != 0 {
		t.Errorf("roles = %v while the password must change, want none", claims["roles"])
	}
	if claims["pwd_change"] != true {
		t.Errorf("pwd_change = %v, want true", claims["pwd_change"])
	}
	r := refresh(t, env.TS, tr.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	tr = decodeTokens(t, r)
	if _, c := jwtSegments(t, tr.AccessToken); c["pwd_change"] != true {
		t.Errorf("after a refresh pwd_change = %v, want true", c["pwd_change"])
	}
	env.Clock.Advance(24*time.Hour + time.Minute) // seed.password_ttl
	wantError(t, refresh(t, env.TS, tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
}

// TestHardeningIPv6Buckets: the per-IP limit buckets IPv6 clients by /64
// and IPv4-mapped addresses with their IPv4 spelling (finding 5).
func TestHardeningIPv6Buckets(t *testing.T) {
	env := newContractEnv(t, func(c *core.Config, o *server.Options) {
		c.IPPerMinute = 3
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	try := func(ip string, i int) int {
		return loginAs(t, env.TS, "", fmt.Sprintf("v6-%d@example.com", i), "wrong password, quite long", "X-Forwarded-For", ip).StatusCode
	}
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
		if got := try(ip, i); got != http.StatusBadRequest {
			t.Fatalf("request %d from %s: status %d, want 400", i, ip, got)
		}
	}
	if got := try("2001:db8:1:2::99", 9); got != http.StatusTooManyRequests {
		t.Errorf("4th request from the same /64: status %d, want 429", got)
	}
	if got := try("2001:db8:1:3::1", 10); got != http.StatusBadRequest {
		t.Errorf("another /64: status %d, want 400", got)
	}
	for i, ip := range []string{"192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7"} {
		if got := try(ip, 20+i); got != http.StatusBadRequest {
			t.Fatalf("request %d from %s: status %d, want 400", i, ip, got)
		}
	}
	if got := try("::ffff:192.0.2.7", 30); got != http.StatusTooManyRequests {
		t.Errorf("IPv4-mapped spelling of a limited IPv4 address: status %d, want 429", got)
	}
}

// TestHardeningLockoutPerSource: failures from one source lock that source
// out of the account, not everyone (finding 7).
func TestHardeningLockoutPerSource(t *testing.T) {
	env := newContractEnv(t, func(_ *core.Config, o *server.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	attacker, victim := "X-Forwarded-For", "X-Forwarded-For"
	for range 5 {
		wantError(t, loginAs(t, env.TS, "", testUser, "wrong password, quite long", attacker, "198.51.100.1"), http.StatusBadRequest, "invalid_grant")
	}
	wantError(t, loginAs(t, env.TS, "", testUser, testPassword, attacker, "198.51.100.1"), http.StatusTooManyRequests, "too_many_attempts")
	wantStatus(t, loginAs(t, env.TS, "", testUser, testPassword, victim, "203.0.113.5"), http.StatusOK)
}

// TestHardeningInviteSurvivesResetRequest: a reset request for a pending
// user neither voids the invite nor mails a reset link (finding 11).
func TestHardeningInviteSurvivesResetRequest(t *testing.T) {
	env := newContractEnv(t, nil)
	ctx := context.Background()
	const email = "invitee@example.com"
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: email}, cliMeta); err != nil {
		t.Fatal(err)
	}
	invite := waitMail(t, env, email, core.MailInvite)
	wantStatus(t, do(t, env.TS, "POST", initiateURL, map[string]string{"email": email}), http.StatusAccepted)
	wantStatus(t, do(t, env.TS, "POST", initiateURL, map[string]string{"email": email}), http.StatusAccepted)
	time.Sleep(200 * time.Millisecond) // let the outbox worker deliver whatever was queued
	if _, ok := env.Mail.Last(email, core.MailPasswordReset); ok {
		t.Errorf("a pending user was mailed a reset link")
	}
	u, _ := url.Parse(invite.URL)
	wantStatus(t, do(t, env.TS, "POST", completeURL, map[string]string{"token": u.Query().Get("token"), "new_password": "a brand new passphrase"}), http.StatusNoContent)
	loginOK(t, env.TS, "", email, "a brand new passphrase")
}

// TestHardeningLookalikeEmails: Unicode normalization forms and IDNA
// spellings of a domain are one account; invisible characters are refused
// (finding 12).
func TestHardeningLookalikeEmails(t *testing.T) {
	env := newContractEnv(t, nil)
	createUser(t, env, "", "jos\u00e9@example.com")
	loginOK(t, env.TS, "", "jose\u0301@example.com", testPassword)
	createUser(t, env, "", "anna@b\u00fccher.de")
	loginOK(t, env.TS, "", "anna@xn--bcher-kva.de", testPassword)
	loginOK(t, env.TS, "", "ANNA@B\u00dcCHER.DE", testPassword)

	admin := loginOK(t, env.TS, "", testAdmin, testPassword)
	for _, email := range []string{"ev\u200bil@example.com", "evil\u202e@example.com", "ev\u00adil@example.com", "evil@exa\u200dmple.com"} {
		r := do(t, env.TS, "POST", registerURL, map[string]any{"email": email, "password": "a brand new passphrase"}, "Authorization", bearer(admin.AccessToken))
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	}
	// The NFD spelling of an existing account is that account.
	r := do(t, env.TS, "POST", registerURL, map[string]any{"email": "jose\u0301@example.com", "password": "a brand new passphrase"}, "Authorization", bearer(admin.AccessToken))
	wantError(t, r, http.StatusConflict, "conflict")
}

// TestHardeningPendingChangeCantLogoutAll: a token whose password must
// change first is refused by logout-all like everywhere else (finding 14).
func TestHardeningPendingChangeCantLogoutAll(t *testing.T) {
	env := newContractEnv(t, nil)
	seed, err := env.Services.Users.Seed(context.Background(), core.SeedInput{Tenant: "otp", Email: "root@example.com", Rotate: false}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	tr := loginOK(t, env.TS, "otp", seed.Email, seed.Password)
	r := do(t, env.TS, "POST", logoutURL, map[string]any{"all": true}, "Authorization", bearer(tr.AccessToken))
	wantError(t, r, http.StatusForbidden, "forbidden")
}

// TestHardeningReplayIsAudited: a grace-window replay writes a
// refresh_replay row with IP and user agent (finding 16).
func TestHardeningReplayIsAudited(t *testing.T) {
	env := newContractEnv(t, nil)
	tr := login(t, env.TS, testUser)
	wantStatus(t, refresh(t, env.TS, tr.RefreshToken), http.StatusOK)
	r := do(t, env.TS, "POST", refreshURL, map[string]string{"refresh_token": tr.RefreshToken}, "User-Agent", "second-tab/1")
	wantStatus(t, r, http.StatusOK)
	if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = 'refresh_replay'
		AND user_agent = 'second-tab/1' AND client_ip = '127.0.0.1' AND lower(subject_email) = $1`, testUser); n != 1 {
		t.Errorf("%d refresh_replay rows, want 1", n)
	}
}

// TestHardeningClientSuppliedIDsAreMarked: an X-Request-Id and a client_id
// the client sent are kept but marked as the client's (finding 17).
func TestHardeningClientSuppliedIDsAreMarked(t *testing.T) {
	env := newContractEnv(t, nil)
	form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "client_id": {"mobile-app"}}
	wantStatus(t, do(t, env.TS, "POST", tokenURL, form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "X-Request-Id", "req-from-client-1"), http.StatusOK)
	wantStatus(t, loginAs(t, env.TS, "", testUser, testPassword), http.StatusOK)
	if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = 'login_success'
		AND request_id = 'req-from-client-1' AND request_id_from_client AND client_id = 'mobile-app' AND NOT client_id_verified`); n != 1 {
		t.Errorf("%d marked rows, want 1", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = 'login_success'
		AND request_id <> 'req-from-client-1' AND NOT request_id_from_client`); n != 1 {
		t.Errorf("%d rows with a server-made request id, want 1", n)
	}
}

// TestHardeningDeviceTokenKeepsOwnBudget: failures from many sources lock
// the account as a whole past lockout.account_max_attempts, but a client
// holding a device token from an earlier success keeps its own budget
// (finding 7; OWASP device cookies).
func TestHardeningDeviceTokenKeepsOwnBudget(t *testing.T) {
	env := newContractEnv(t, func(c *core.Config, o *server.Options) {
		c.MaxAttempts, c.AccountMaxAttempts = 3, 9
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts := env.TS
	const wrong = "wrong password, quite long"
	home := []string{"X-Forwarded-For", "203.0.113.50"}
	first := loginOK(t, ts, "", testUser, testPassword)
	device := first.DeviceToken
	if len(device) < 40 {
		t.Fatalf("device_token %q", device)
	}
	withDevice := func(pw string) response {
		return do(t, ts, "POST", tokenURL, map[string]string{"email": testUser, "password": pw, "device_token": device}, home...)
	}

	// Nine failures from three sources: each source locks, then the
	// account as a whole.
	for i := range 9 {
		ip := fmt.Sprintf("198.51.100.%d", 1+i/3)
		if r := loginAs(t, ts, "", testUser, wrong, "X-Forwarded-For", ip); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("failure %d from %s: %d %s", i+1, ip, r.StatusCode, r.Body)
		}
	}
	r := loginAs(t, ts, "", testUser, testPassword, "X-Forwarded-For", "192.0.2.200")
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra <= 0 || ra%300 != 0 {
		t.Errorf("account lock Retry-After %q: want a coarse value (whole 5 minutes), not the exact end", r.Header.Get("Retry-After"))
	}
	if n := auditCount(t, env, core.EventAccountLocked, core.ReasonAccountMaxAttempts, testUser); n != 1 {
		t.Errorf("%d account-wide lock rows, want 1", n)
	}
	// The owner's device still gets in, every time.
	for range 3 {
		r := withDevice(testPassword)
		wantStatus(t, r, http.StatusOK)
		if decodeTokens(t, r).DeviceToken == "" {
			t.Fatal("no fresh device token")
		}
	}
	// A device token of another account buys nothing.
	other := loginOK(t, ts, "", testAdmin, testPassword).DeviceToken
	r = do(t, ts, "POST", tokenURL, map[string]string{"email": testUser, "password": testPassword, "device_token": other}, home...)
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	// The device has its own budget: three failures lock it, and then even
	// the right password waits.
	for range 3 {
		wantError(t, withDevice(wrong), http.StatusBadRequest, "invalid_grant")
	}
	wantError(t, withDevice(testPassword), http.StatusTooManyRequests, "too_many_attempts")
	// A completed reset (or `idp users unlock`) clears every lock.
	if _, err := env.Services.Users.Unlock(context.Background(), "", testUser, cliMeta); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, loginAs(t, ts, "", testUser, testPassword, "X-Forwarded-For", "192.0.2.200"), http.StatusOK)
	wantStatus(t, withDevice(testPassword), http.StatusOK)
}
