package server_test

// Contract tests of the password login (issue 3, SECURITY A and B) against
// real PostgreSQL and Redis.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/server"
)

// TestContractLoginSuccess: every field of the token response, with its
// type, and the headers a token response must carry.
func TestContractLoginSuccess(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS

	check := func(t *testing.T, r response) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		for k, want := range map[string]string{
			"Cache-Control":          "no-store",
			"Pragma":                 "no-cache",
			"Content-Type":           "application/json",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &raw); err != nil {
			t.Fatal(err)
		}
		// A password login also hands out a device token (CONTRACT 3, v2).
		want := []string{"access_token", "token_type", "expires_in", "issued_at", "kid", "refresh_token", "refresh_expires_in", "device_token"}
		if len(raw) != len(want) {
			t.Errorf("token response has keys %v, want exactly %v", keys(raw), want)
		}
		str := func(k string) string {
			var s string
			if err := json.Unmarshal(raw[k], &s); err != nil || s == "" {
				t.Fatalf("%s = %s, want a non-empty string", k, raw[k])
			}
			return s
		}
		integer := func(k string) int64 {
			n, err := strconv.ParseInt(string(raw[k]), 10, 64)
			if err != nil {
				t.Fatalf("%s = %s, want an integer", k, raw[k])
			}
			return n
		}
		if tt := str("token_type"); tt != "Bearer" {
			t.Errorf("token_type %q", tt)
		}
		if n := integer("expires_in"); n != int64(testAccessTTL/time.Second) {
			t.Errorf("expires_in %d", n)
		}
		if n := integer("refresh_expires_in"); n < int64(168*time.Hour/time.Second)-5 || n > int64(168*time.Hour/time.Second) {
			// The first token ends with the idle window (168h), which is
			// earlier than the absolute end (720h).
			t.Errorf("refresh_expires_in %d", n)
		}
		issued := str("issued_at")
		at, err := time.Parse(time.RFC3339, issued)
		if err != nil || !strings.HasSuffix(issued, "Z") || at.Location() != time.UTC {
			t.Errorf("issued_at %q is not RFC 3339 UTC", issued)
		}
		if d := time.Since(at); d < -2*time.Second || d > 10*time.Second {
			t.Errorf("issued_at %s is %s from now", issued, d)
		}
		if kid := str("kid"); kid != env.Services.Keys.ActiveKID() {
			t.Errorf("kid %q, active %q", kid, env.Services.Keys.ActiveKID())
		}
		access := str("access_token")
		hdr, claims := jwtSegments(t, access)
		if hdr["kid"] != str("kid") || hdr["alg"] != "EdDSA" || hdr["typ"] != "at+jwt" {
			t.Errorf("access token header %v", hdr)
		}
		if claims["email"] != testUser || claims["iss"] != ts.URL || claims["aud"] != testAudience {
			t.Errorf("access token claims %v", claims)
		}
		if rt := str("refresh_token"); len(rt) < 43 || strings.ContainsAny(rt, "+/=.") {
			t.Errorf("refresh_token %q is not >= 256 bits of base64url", rt)
		}
	}

	t.Run("json", func(t *testing.T) {
		check(t, loginAs(t, ts, "", testUser, testPassword))
	})
	t.Run("json with tenant", func(t *testing.T) {
		check(t, loginAs(t, ts, testTenant, testUser, testPassword))
	})
	t.Run("form", func(t *testing.T) {
		form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}}
		check(t, do(t, ts, "POST", tokenURL, form.Encode(), "Content-Type", "application/x-www-form-urlencoded"))
	})
	t.Run("last_login_at", func(t *testing.T) {
		tr := loginOK(t, ts, "", testUser, testPassword)
		m := me(t, ts, tr.AccessToken).JSON(t)
		if _, ok := m["last_login_at"].(string); !ok {
			t.Fatalf("last_login_at not set after a login: %v", m)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestContractLoginFailuresIdentical: wrong password, unknown email,
// disabled user, pending user and disabled tenant look exactly alike on the
// wire; only the audit log tells them apart.
func TestContractLoginFailuresIdentical(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()

	createUser(t, env, "", "disabled@example.com")
	if _, err := env.Services.Users.Disable(ctx, "", "disabled@example.com", cliMeta); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: "pending@example.com"}, cliMeta); err != nil {
		t.Fatal(err)
	}
	createUser(t, env, "shut", "member@example.com")
	if _, err := env.Services.Tenants.Disable(ctx, "shut", cliMeta); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, tenant, email, password, reason string
	}{
		{"wrong password", "", testUser, "not the right passphrase", core.ReasonBadPassword},
		{"unknown email", "", "nobody@example.com", testPassword, core.ReasonUnknownEmail},
		{"disabled user", "", "disabled@example.com", testPassword, core.ReasonDisabled},
		{"pending user", "", "pending@example.com", testPassword, core.ReasonPending},
		{"disabled tenant", "shut", "member@example.com", testPassword, core.ReasonTenantDisabled},
		{"unknown tenant", "no-such-tenant", testUser, testPassword, core.ReasonUnknownEmail},
	}
	var first response
	for i, c := range cases {
		r := loginAs(t, ts, c.tenant, c.email, c.password)
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		if i == 0 {
			first = r
			continue
		}
		if string(r.Body) != string(first.Body) {
			t.Errorf("%s: body %q, %s gave %q", c.name, r.Body, cases[0].name, first.Body)
		}
		if headerSet(r) != headerSet(first) {
			t.Errorf("%s: headers\n%s\n%s gave\n%s", c.name, headerSet(r), cases[0].name, headerSet(first))
		}
	}
	// The form grant answers the same bytes.
	form := url.Values{"grant_type": {"password"}, "username": {"nobody@example.com"}, "password": {testPassword}}
	r := do(t, ts, "POST", tokenURL, form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if string(r.Body) != string(first.Body) || headerSet(r) != headerSet(first) {
		t.Errorf("form grant: %d %q, want %q", r.StatusCode, r.Body, first.Body)
	}

	for _, c := range cases {
		if n := auditCount(t, env, core.EventLoginFailure, c.reason, c.email); n < 1 {
			t.Errorf("%s: no login_failure row with reason %q", c.name, c.reason)
		}
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions after failed logins", n)
	}
}

// TestContractLockout: max_attempts failures lock the account (429 with
// Retry-After, even for the right password), a success resets the counter,
// unknown emails and email variants are throttled the same way, and the
// lock survives FLUSHALL.
func TestContractLockout(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	const wrong = "definitely not the password"

	wantLocked := func(t *testing.T, r response) {
		t.Helper()
		wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > int((15*time.Minute)/time.Second) {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("429 Cache-Control %q", r.Header.Get("Cache-Control"))
		}
	}
	// failN makes n wrong attempts that must each be an ordinary failure.
	failN := func(t *testing.T, tenant, email string, n int) {
		t.Helper()
		for i := range n {
			r := loginAs(t, ts, tenant, email, wrong)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("attempt %d: %d %s, want 400", i+1, r.StatusCode, r.Body)
			}
		}
	}

	var lockedBody string
	t.Run("lock after max_attempts", func(t *testing.T) {
		const email = "locked@example.com"
		createUser(t, env, "", email)
		failN(t, "", email, 5)
		r := loginAs(t, ts, "", email, wrong)
		wantLocked(t, r)
		lockedBody = string(r.Body)
		r = loginAs(t, ts, "", email, testPassword)
		wantLocked(t, r)
		if string(r.Body) != lockedBody {
			t.Fatalf("right password while locked: %q, wrong: %q", r.Body, lockedBody)
		}
		if n := auditCount(t, env, core.EventLoginFailure, core.ReasonBadPassword, email); n != 5 {
			t.Errorf("%d bad_password rows, want 5", n)
		}
		if n := auditCount(t, env, core.EventAccountLocked, "*", email); n != 1 {
			t.Errorf("%d account_locked rows, want 1", n)
		}
		// The two refusals share one aggregated row.
		if n := auditCount(t, env, core.EventLoginFailure, core.ReasonLocked, email); n != 1 {
			t.Errorf("%d locked rows, want 1", n)
		}
		// Every failure came from one source: that source is locked out of
		// the account, durably.
		if n := sqlInt(t, env, `SELECT count(*) FROM login_source_locks l JOIN users u ON u.id = l.user_id
			WHERE u.email = $1 AND l.locked_until > now()`, email); n != 1 {
			t.Error("the lock is not in PostgreSQL")
		}
	})

	t.Run("success resets the counter", func(t *testing.T) {
		const email = "resets@example.com"
		createUser(t, env, "", email)
		failN(t, "", email, 4)
		loginOK(t, ts, "", email, testPassword)
		failN(t, "", email, 4)
		loginOK(t, ts, "", email, testPassword)
		if n := auditCount(t, env, core.EventAccountLocked, "*", email); n != 0 {
			t.Errorf("%d account_locked rows, want 0", n)
		}
	})

	t.Run("unknown email locks the same way", func(t *testing.T) {
		const email = "ghost@example.com"
		failN(t, "", email, 5)
		r := loginAs(t, ts, "", email, wrong)
		wantLocked(t, r)
		if string(r.Body) != lockedBody {
			t.Fatalf("unknown email locked body %q, real account %q", r.Body, lockedBody)
		}
		if n := auditCount(t, env, core.EventLoginFailure, core.ReasonUnknownEmail, email); n != 5 {
			t.Errorf("%d unknown_email rows, want 5", n)
		}
	})

	t.Run("email variants share one counter", func(t *testing.T) {
		const email = "variant@example.com"
		createUser(t, env, "", email)
		for i, v := range []string{"Variant@Example.com", " variant@example.com", "VARIANT@EXAMPLE.COM ", "\tvariant@example.COM", "variant@example.com"} {
			r := loginAs(t, ts, "", v, wrong)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("attempt %d (%q): %d %s", i+1, v, r.StatusCode, r.Body)
			}
		}
		wantLocked(t, loginAs(t, ts, "", email, testPassword))
		wantLocked(t, loginAs(t, ts, "", "  VARIANT@example.com", testPassword))
	})

	t.Run("FLUSHALL does not unlock", func(t *testing.T) {
		const email = "flushed@example.com"
		createUser(t, env, "", email)
		failN(t, "", email, 5)
		wantLocked(t, loginAs(t, ts, "", email, testPassword))
		flushRedis(t, env)
		wantLocked(t, loginAs(t, ts, "", email, testPassword))
		// The lock went back into Redis: wrong attempts don't count.
		wantLocked(t, loginAs(t, ts, "", email, wrong))
		if n := auditCount(t, env, core.EventLoginFailure, core.ReasonBadPassword, email); n != 5 {
			t.Errorf("%d bad_password rows after FLUSHALL, want 5", n)
		}
		// An administrator's unlock ends it.
		if _, err := env.Services.Users.Unlock(context.Background(), "", email, cliMeta); err != nil {
			t.Fatal(err)
		}
		loginOK(t, ts, "", email, testPassword)
	})
}

// flushRedis empties the test's Redis from a client of its own.
func flushRedis(t testing.TB, env *testEnv) {
	t.Helper()
	opts, err := goredis.ParseURL(env.Redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
}

// TestContractConcurrentAttempts: 200 simultaneous wrong passwords for one
// account run exactly max_attempts verifications; every other one is
// refused as locked, none succeeds.
func TestContractConcurrentAttempts(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	const email = "hammered@example.com"
	createUser(t, env, "", email)

	const n = 200
	var status [n]int
	var errs atomic.Int32
	parallel(n, func(i int) {
		r, err := sendRaw(ts, postReq(ts, tokenURL, map[string]string{"email": email, "password": fmt.Sprintf("wrong guess number %d", i)}))
		if err != nil {
			errs.Add(1)
			return
		}
		status[i] = r.StatusCode
	})
	if errs.Load() > 0 {
		t.Fatalf("%d requests failed in transport", errs.Load())
	}
	count := map[int]int{}
	for _, s := range status {
		count[s]++
	}
	// At most max_attempts verifications ran. Exactly max_attempts attempts
	// got past the counter; one of them may still find the lock that the
	// fifth wrote to PostgreSQL meanwhile and be refused without a hash,
	// which is why this is "between 1 and 5", not "5".
	verified := auditCount(t, env, core.EventLoginFailure, core.ReasonBadPassword, email)
	locked := auditCount(t, env, core.EventLoginFailure, core.ReasonLocked, email)
	if verified < 1 || verified > 5 {
		t.Errorf("%d bad_password verifications, want 1..5", verified)
	}
	// Throttled attempts are aggregated: one row per account and window
	// (a window may roll over during the test), not one per request.
	if locked < 1 || locked > 2 {
		t.Errorf("%d locked rows for %d refusals, want 1 or 2 (aggregated)", locked, n-verified)
	}
	if count[http.StatusBadRequest] != verified || count[http.StatusTooManyRequests] != n-verified || count[http.StatusOK] != 0 {
		t.Errorf("statuses %v, want %d x 400 and %d x 429", count, verified, n-verified)
	}
	if got := auditCount(t, env, core.EventAccountLocked, "*", email); got != 1 {
		t.Errorf("%d account_locked rows, want 1", got)
	}
	if got := auditCount(t, env, core.EventLoginSuccess, "*", email); got != 0 {
		t.Errorf("%d successful logins", got)
	}
	t.Logf("%d verifications, %d refused as locked", verified, locked)
	// The right password, now, is refused too.
	wantError(t, loginAs(t, ts, "", email, testPassword), http.StatusTooManyRequests, "too_many_attempts")
}

// TestContractRedisDown: without Redis the login fails closed with 503 and
// runs no hash; it recovers by itself when Redis is back.
func TestContractRedisDown(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	tr := loginOK(t, ts, "", testUser, testPassword)
	sessions := sqlInt(t, env, `SELECT count(*) FROM sessions`)

	env.Redis.Stop()
	for _, pw := range []string{testPassword, "a wrong password here"} {
		r := loginAs(t, ts, "", testUser, pw)
		wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
	}
	if n := auditCount(t, env, core.EventLoginFailure, "*", testUser); n != 0 {
		t.Errorf("%d login_failure rows while Redis was down (a hash ran)", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM sessions`); n != sessions {
		t.Errorf("a session was created while Redis was down")
	}
	// /me and refresh don't need Redis.
	wantStatus(t, me(t, ts, tr.AccessToken), http.StatusOK)
	wantStatus(t, refresh(t, ts, tr.RefreshToken), http.StatusOK)

	env.Redis.Start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := loginAs(t, ts, "", testUser, testPassword)
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis came back: %d %s", r.StatusCode, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContractHashFlood: more logins than hashing slots get quick 503s,
// and /healthz and /me keep answering during the flood.
func TestContractHashFlood(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, func(c *core.Config, _ *server.Options) {
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = 2 * time.Millisecond
	})
	ts := env.TS
	tr := loginOK(t, ts, "", testUser, testPassword)

	const n = 60
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		bad      []string
	)
	stop := make(chan struct{})
	var side sync.WaitGroup
	var healthz, meOK atomic.Int32
	side.Add(1)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := sendRaw(ts, getReq(ts, "/healthz"))
			mu.Lock()
			if err != nil || r.StatusCode != http.StatusOK {
				bad = append(bad, fmt.Sprintf("healthz: %v %v", err, r.StatusCode))
			}
			mu.Unlock()
			healthz.Add(1)
			r, err = sendRaw(ts, getReq(ts, meURL, "Authorization", bearer(tr.AccessToken)))
			mu.Lock()
			if err != nil || r.StatusCode != http.StatusOK {
				bad = append(bad, fmt.Sprintf("me: %v %v", err, r.StatusCode))
			}
			mu.Unlock()
			meOK.Add(1)
		}
	}()
	// Waves of logins until the side requests have had a fair share of the
	// flood (a wave alone is over in a blink).
	for wave := 0; wave < 30 && (healthz.Load() < 20 || meOK.Load() < 20); wave++ {
		parallel(n, func(i int) {
			r, err := sendRaw(ts, postReq(ts, tokenURL, map[string]string{"email": fmt.Sprintf("flood%d-%d@example.com", wave, i), "password": "some password or other"}))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				bad = append(bad, "login: "+err.Error())
				return
			}
			statuses[r.StatusCode]++
			if r.StatusCode == http.StatusServiceUnavailable {
				var e map[string]any
				_ = json.Unmarshal(r.Body, &e)
				if e["error"] != "temporarily_unavailable" || r.Header.Get("Retry-After") == "" {
					bad = append(bad, fmt.Sprintf("503 %s Retry-After %q", r.Body, r.Header.Get("Retry-After")))
				}
			}
		})
	}
	close(stop)
	side.Wait()
	total := 0
	for _, c := range statuses {
		total += c
	}

	if len(bad) > 0 {
		t.Fatalf("%d bad answers, first: %s", len(bad), bad[0])
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 in a flood of %d logins over 1 hashing slot: %v", n, statuses)
	}
	if statuses[http.StatusServiceUnavailable]+statuses[http.StatusBadRequest] != total {
		t.Errorf("statuses %v, want only 400 and 503", statuses)
	}
	if healthz.Load() < 20 || meOK.Load() < 20 {
		t.Errorf("healthz/me not exercised during the flood")
	}
	t.Logf("flood: %v, %d healthz and %d /me during it", statuses, healthz.Load(), meOK.Load())
}

// TestContractLoginLimits: body size, password length and content type.
func TestContractLoginLimits(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS

	t.Run("oversized body", func(t *testing.T) {
		big := `{"email":"a@example.com","password":"` + strings.Repeat("x", 64<<10) + `"}`
		r := do(t, ts, "POST", tokenURL, big)
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		// Without a Content-Length (chunked), the cap still holds.
		req, err := http.NewRequest("POST", ts.URL+tokenURL, io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		r, err = sendRaw(ts, req)
		if err != nil {
			t.Fatal(err)
		}
		if req.ContentLength != 0 && req.ContentLength != -1 {
			t.Fatalf("request had a Content-Length")
		}
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		// Exactly 64 KiB is not too large.
		fill := 64<<10 - len(`{"email":"a@example.com","password":""}`)
		r = do(t, ts, "POST", tokenURL, `{"email":"a@example.com","password":"`+strings.Repeat("x", fill)+`"}`)
		if r.StatusCode == http.StatusRequestEntityTooLarge {
			t.Fatalf("a 64 KiB body is refused as too large")
		}
	})

	t.Run("wrong content type", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "application/json; charset=latin1", "application/xml", ""} {
			req, _ := http.NewRequest("POST", ts.URL+tokenURL, strings.NewReader(`{"email":"a@example.com","password":"b"}`))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			r, err := sendRaw(ts, req)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, r, http.StatusUnsupportedMediaType, "invalid_request")
		}
		r := do(t, ts, "POST", tokenURL, `{"email":"`+testUser+`","password":"`+testPassword+`"}`, "Content-Type", "application/json; charset=UTF-8")
		wantStatus(t, r, http.StatusOK)
	})

	t.Run("client_id is recorded", func(t *testing.T) {
		r := do(t, ts, "POST", tokenURL, map[string]string{"email": testUser, "password": testPassword, "client_id": "my-spa"})
		tr := decodeTokens(t, r)
		wantStatus(t, r, http.StatusOK)
		sid := sidOf(t, tr.AccessToken)
		if n := sqlInt(t, env, `SELECT count(*) FROM sessions WHERE id = $1 AND client_id = 'my-spa'`, sid); n != 1 {
			t.Errorf("client_id not on the session")
		}
		if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE session_id = $1 AND event = 'login_success' AND client_id = 'my-spa'`, sid); n != 1 {
			t.Errorf("client_id not in the audit row")
		}
	})

	t.Run("1025-byte password", func(t *testing.T) {
		before := sqlInt(t, env, `SELECT count(*) FROM user_login_events`)
		r := loginAs(t, ts, "", testUser, strings.Repeat("a", 1025))
		wantError(t, r, http.StatusBadRequest, "invalid_request")
		if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events`); n != before {
			t.Errorf("an over-long password was counted as an attempt")
		}
		// Multi-byte: 513 two-byte runes are 1026 bytes.
		wantError(t, loginAs(t, ts, "", testUser, strings.Repeat("é", 513)), http.StatusBadRequest, "invalid_request")
	})

	t.Run("1024-byte password", func(t *testing.T) {
		pw := strings.Repeat("Zq9 ", 256)
		if len(pw) != 1024 {
			t.Fatal(len(pw))
		}
		admin := loginOK(t, ts, "", testAdmin, testPassword)
		r := do(t, ts, "POST", registerURL, map[string]string{"email": "big@example.com", "password": pw}, "Authorization", bearer(admin.AccessToken))
		wantStatus(t, r, http.StatusCreated)
		loginOK(t, ts, "", "big@example.com", pw)
		// One byte short of it is a different password.
		wantError(t, loginAs(t, ts, "", "big@example.com", pw[:1023]), http.StatusBadRequest, "invalid_grant")
		// And one over is refused at registration, as invalid_request.
		r = do(t, ts, "POST", registerURL, map[string]string{"email": "bigger@example.com", "password": pw + "x"}, "Authorization", bearer(admin.AccessToken))
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})

	t.Run("80-byte passwords sharing 72 bytes", func(t *testing.T) {
		base := strings.Repeat("LongPassphrase-", 5)[:72]
		pw := base + "AAAAAAAA"
		admin := loginOK(t, ts, "", testAdmin, testPassword)
		r := do(t, ts, "POST", registerURL, map[string]string{"email": "eighty@example.com", "password": pw}, "Authorization", bearer(admin.AccessToken))
		wantStatus(t, r, http.StatusCreated)
		wantError(t, loginAs(t, ts, "", "eighty@example.com", base+"BBBBBBBB"), http.StatusBadRequest, "invalid_grant")
		loginOK(t, ts, "", "eighty@example.com", pw)
	})

	t.Run("missing fields", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"email":"a@example.com"}`, `{"password":"x"}`, `[]`, `{"email":1,"password":"x"}`, `not json`} {
			wantError(t, do(t, ts, "POST", tokenURL, body), http.StatusBadRequest, "invalid_request")
		}
	})
}

// TestContractIPRateLimit: the per-IP limit answers 429 with Retry-After;
// X-Forwarded-For moves the bucket only when it comes from a trusted proxy.
func TestContractIPRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	wantLimited := func(t *testing.T, r response) {
		t.Helper()
		wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	attempt := func(t *testing.T, env *testEnv, i int, headers ...string) response {
		t.Helper()
		// A different unknown email each time, so no account lock interferes.
		return loginAs(t, env.TS, "", fmt.Sprintf("ip%d@example.com", i), "some wrong password", headers...)
	}

	t.Run("untrusted peer", func(t *testing.T) {
		t.Parallel()
		env := newContractEnv(t, func(c *core.Config, _ *server.Options) { c.IPPerMinute = limit })
		for i := range limit {
			wantError(t, attempt(t, env, i), http.StatusBadRequest, "invalid_grant")
		}
		wantLimited(t, attempt(t, env, 10))
		// A forged X-Forwarded-For from a peer we don't trust changes nothing.
		wantLimited(t, attempt(t, env, 11, "X-Forwarded-For", "203.0.113.7"))
		wantLimited(t, attempt(t, env, 12, "X-Forwarded-For", "203.0.113.8, 198.51.100.1"))
		// The right password is refused too: the limit comes before any hash.
		wantLimited(t, loginAs(t, env.TS, "", testUser, testPassword))
		// Four refusals from one IP share one aggregated row (two if a
		// window ended in between).
		if n := auditCount(t, env, core.EventLoginFailure, core.ReasonRateLimited, ""); n < 1 || n > 2 {
			t.Errorf("%d rate_limited rows, want 1 or 2", n)
		}
		// The other limited endpoints have buckets of their own.
		for i := range limit {
			wantError(t, refresh(t, env.TS, fmt.Sprintf("no-such-token-%d", i)), http.StatusBadRequest, "invalid_grant")
			wantStatus(t, do(t, env.TS, "POST", initiateURL, map[string]string{"email": fmt.Sprintf("r%d@example.com", i)}), http.StatusAccepted)
		}
		wantLimited(t, refresh(t, env.TS, "no-such-token"))
		wantLimited(t, do(t, env.TS, "POST", initiateURL, map[string]string{"email": "r9@example.com"}))
	})

	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		env := newContractEnv(t, func(c *core.Config, o *server.Options) {
			c.IPPerMinute = limit
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		for i := range limit {
			wantError(t, attempt(t, env, i, xff("203.0.113.1")...), http.StatusBadRequest, "invalid_grant")
		}
		wantLimited(t, attempt(t, env, 10, xff("203.0.113.1")...))
		// Another client behind the proxy has its own bucket...
		wantError(t, attempt(t, env, 11, xff("203.0.113.2")...), http.StatusBadRequest, "invalid_grant")
		// ...and so has the proxy itself.
		wantError(t, attempt(t, env, 12), http.StatusBadRequest, "invalid_grant")
		// A client-written entry left of the real one doesn't escape.
		wantLimited(t, attempt(t, env, 13, xff("198.51.100.9, 203.0.113.1")...))
		// The audit rows record the client, not the proxy: its failures and
		// one aggregated row for its two refusals (two rows if a window
		// ended in between).
		if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE client_ip = '203.0.113.1'`); n < limit+1 || n > limit+2 {
			t.Errorf("%d audit rows for client 203.0.113.1, want %d", n, limit+1)
		}
	})
}

// TestContractLockNotExtended: attempts during a lock neither count nor
// extend it, and a later lock lasts longer (escalation, capped). Redis
// locks run on real time, so this test uses short locks and one sleep.
func TestContractLockNotExtended(t *testing.T) {
	t.Parallel()
	const first, capped = 2 * time.Second, 4 * time.Second
	env := newContractEnv(t, func(c *core.Config, _ *server.Options) {
		c.LockDuration = first
		c.LockMaxDuration = capped
	})
	ts := env.TS
	const email = "escalate@example.com"
	createUser(t, env, "", email)
	lockedUntil := func() time.Time {
		var at time.Time
		if err := env.DB.QueryRow(`SELECT l.locked_until FROM login_source_locks l JOIN users u ON u.id = l.user_id
			WHERE u.email = $1`, email).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	retryAfter := func(r response) int {
		t.Helper()
		wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
		n, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		return n
	}
	// Five wrong attempts at once: the counter window is the (short) lock
	// duration, so they must not be spread out.
	fail5 := func() {
		parallel(5, func(int) {
			_, _ = sendRaw(ts, postReq(ts, tokenURL, map[string]string{"email": email, "password": "wrong, very wrong"}))
		})
	}

	fail5()
	until := lockedUntil()
	for range 5 {
		if ra := retryAfter(loginAs(t, ts, "", email, "wrong, very wrong")); ra < 1 || ra > 2 {
			t.Errorf("Retry-After %d during a 2 s lock", ra)
		}
	}
	if !lockedUntil().Equal(until) {
		t.Errorf("attempts during the lock moved locked_until from %s to %s", until, lockedUntil())
	}
	if n := auditCount(t, env, core.EventAccountLocked, "*", email); n != 1 {
		t.Errorf("%d account_locked rows, want 1", n)
	}

	time.Sleep(time.Until(until) + 100*time.Millisecond)
	fail5()
	if ra := retryAfter(loginAs(t, ts, "", email, testPassword)); ra < 3 || ra > 4 {
		t.Errorf("second lock: Retry-After %d, want 3..4 (escalated from 2 s, capped at 4 s)", ra)
	}
	if d := time.Until(lockedUntil()); d < 2*time.Second || d > capped {
		t.Errorf("second lock lasts %s in PostgreSQL, want up to 4 s", d)
	}
	if n := auditCount(t, env, core.EventAccountLocked, "*", email); n != 2 {
		t.Errorf("%d account_locked rows, want 2", n)
	}
}

// TestContractPasswordChangeThrottled: /password/change verifies the
// current password, so it is throttled like a login, the session being its
// source (SECURITY 8 and 11): otherwise a stolen access token would be an
// unthrottled oracle for the account's password. The guesses count towards
// the account's total, but don't lock the owner's logins.
func TestContractPasswordChangeThrottled(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	const email = "guessed@example.com"
	createUser(t, env, "", email)
	stolen := loginOK(t, ts, "", email, testPassword)
	auth := []string{"Authorization", bearer(stolen.AccessToken)}

	statuses := map[int]int{}
	for i := range 10 {
		r := do(t, ts, "POST", changeURL, map[string]string{"current_password": fmt.Sprintf("guess number %d", i), "new_password": "the attacker's choice"}, auth...)
		statuses[r.StatusCode]++
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("10 wrong current passwords on /password/change: %v, no 429: the password can be guessed without limit", statuses)
	}
	// Even the right current password is refused on that session now.
	r := do(t, ts, "POST", changeURL, map[string]string{"current_password": testPassword, "new_password": "the attacker's choice"}, auth...)
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if n := auditCount(t, env, core.EventPasswordChange, core.ReasonBadPassword, email); n != 5 {
		t.Errorf("%d verified wrong guesses, want 5 (lockout.max_attempts)", n)
	}
	// The owner still logs in: the thief locked only its own session.
	loginOK(t, ts, "", email, testPassword)
}
