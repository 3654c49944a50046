package e2e

import (
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestServeRefusesPendingMigrations(t *testing.T) {
	e := newEnv(t)
	_, stderr, code := e.run("", "serve")
	if code != 3 || !strings.Contains(stderr, "idp migrate up") {
		t.Fatalf("exit %d, stderr %q: want 3 naming `idp migrate up`", code, stderr)
	}
}

func TestServeRejectsBadConfigNamingEveryKey(t *testing.T) {
	e := newEnv(t)
	_, stderr, code := e.runWith(map[string]string{
		"IDP_SECURITY_PEPPER":     "too-short-pepper",
		"IDP_KEYS_ENCRYPTION_KEY": "bm90IDMyIGJ5dGVz",
		"IDP_TOKENS_ACCESS_TTL":   "fifteen minutes",
		"IDP_LOCKOUT_DURATION":    "-",
	}, "", "serve")
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, stderr)
	}
	for _, key := range []string{"security.pepper", "keys.encryption_key", "tokens.access_ttl", "lockout.duration"} {
		if !strings.Contains(stderr, key) {
			t.Errorf("stderr %q does not name %s", stderr, key)
		}
	}
	if strings.Contains(stderr, "too-short-pepper") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("stderr must be one line without secret values: %q", stderr)
	}
}

func TestServeHealthReadinessAndRedisOutage(t *testing.T) {
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	s := e.serve(nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp := call(t, "GET", s.URL+path, "", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("%s = %d", path, resp.StatusCode)
		}
	}
	e.redis.Stop()
	start := time.Now()
	for {
		resp := call(t, "GET", s.URL+"/readyz", "", nil, nil)
		if resp.StatusCode == 503 {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("/readyz still %d 2s after Redis stopped", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp := call(t, "GET", s.URL+"/healthz", "", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/healthz = %d while Redis is down", resp.StatusCode)
	}
	e.redis.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := call(t, "GET", s.URL+"/readyz", "", nil, nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover after Redis restarted")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSIGTERMDrainsInFlightRequestsAndRestartKeepsKeys(t *testing.T) {
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	e.createUser("slow@example.com")
	// Cost 13 makes a login take about a second here: a slow request that
	// is in flight when SIGTERM arrives.
	s := e.serve(map[string]string{"IDP_SECURITY_BCRYPT_COST": "13"})
	before, code := login(t, s.URL, "slow@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	var wg sync.WaitGroup
	var status int
	var finished time.Time
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, status = login(t, s.URL, "slow@example.com", userPassword)
		finished = time.Now()
	}()
	time.Sleep(300 * time.Millisecond)
	signalled := time.Now()
	s.signal(syscall.SIGTERM)
	wg.Wait()
	if status != 200 {
		t.Fatalf("in-flight login during SIGTERM = %d, want 200", status)
	}
	if !finished.After(signalled) {
		t.Fatal("the login finished before SIGTERM: nothing was in flight, the test proves nothing")
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code after drain = %d", code)
	}

	// A restart keeps the active kid: tokens issued before still verify.
	s2 := e.serve(nil)
	var me map[string]any
	if resp := call(t, "GET", s2.URL+"/api/v1/auth/me", before.AccessToken, nil, &me); resp.StatusCode != 200 {
		t.Fatalf("/me after restart = %d", resp.StatusCode)
	}
	after, _ := login(t, s2.URL, "slow@example.com", userPassword)
	if after.KID != before.KID {
		t.Fatalf("kid changed across restart: %s -> %s", before.KID, after.KID)
	}
	_ = http.StatusOK
}
