package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOwnerSignsInWhileAccountIsHammered: an attacker at full per-IP speed
// from many addresses fails on one account for 30 s, with short locks so
// that they end and start again many times. The owner, logging in from a
// browser or client that holds a device token, must get in every single
// time (docs/auth/idp.md, "Lockout").
func TestOwnerSignsInWhileAccountIsHammered(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s attack")
	}
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	const victim = "victim@example.com"
	e.createUser(victim)
	s := e.serve(map[string]string{
		"IDP_RATELIMIT_IP_PER_MINUTE":        "120",
		"IDP_HTTP_TRUSTED_PROXIES":           "127.0.0.1/32",
		"IDP_LOCKOUT_MAX_ATTEMPTS":           "5",
		"IDP_LOCKOUT_ACCOUNT_MAX_ATTEMPTS":   "20",
		"IDP_LOCKOUT_DURATION":               "2s",
		"IDP_LOCKOUT_MAX_DURATION":           "4s",
		"IDP_SECURITY_MAX_CONCURRENT_HASHES": "2",
	})
	post := func(ip string, body map[string]string) (int, string) {
		var out struct {
			DeviceToken string `json:"device_token"`
		}
		req := map[string]string{"email": victim}
		for k, v := range body {
			req[k] = v
		}
		code, err := postJSONFrom(ip, s.URL+"/api/v1/auth/token", req, &out)
		if err != nil {
			return 0, ""
		}
		return code, out.DeviceToken
	}

	// The owner signed in once before the attack.
	code, device := post("203.0.113.77", map[string]string{"password": userPassword})
	if code != http.StatusOK || device == "" {
		t.Fatalf("first login: %d, device token %q", code, device)
	}

	const attack = 30 * time.Second
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var attempts, refused, failed atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// 64 addresses, each at most at its per-IP limit.
				ip := fmt.Sprintf("198.51.100.%d", 1+(w*8+i)%64)
				code, _ := post(ip, map[string]string{"password": fmt.Sprintf("guess %d-%d", w, i)})
				attempts.Add(1)
				switch code {
				case http.StatusTooManyRequests:
					refused.Add(1)
				case http.StatusBadRequest:
					failed.Add(1)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}

	// Someone without a device token, meanwhile, finds the account locked
	// (now and then: the short locks end and start again).
	var owner, ownerOK, strangers, strangersRefused int
	deadline := time.Now().Add(attack)
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		if owner%5 == 4 {
			strangers++
			if code, _ := post(fmt.Sprintf("192.0.2.%d", 1+strangers), map[string]string{"password": userPassword}); code == http.StatusTooManyRequests {
				strangersRefused++
			}
		}
		code, next := post("203.0.113.77", map[string]string{"password": userPassword, "device_token": device})
		owner++
		if code != http.StatusOK {
			t.Errorf("owner login %d during the attack: %d", owner, code)
			continue
		}
		ownerOK++
		device = next
	}
	close(stop)
	wg.Wait()
	t.Logf("attack: %d attempts in %s (%d verified and failed, %d refused as locked or rate-limited); owner: %d of %d logins succeeded; right password without a device token: %d of %d refused",
		attempts.Load(), attack, failed.Load(), refused.Load(), ownerOK, owner, strangersRefused, strangers)
	if ownerOK != owner || owner < 50 {
		t.Errorf("the owner got in %d of %d times, want every time", ownerOK, owner)
	}
	if failed.Load() < 20 {
		t.Errorf("the attack verified only %d passwords: it never reached the account-wide lock", failed.Load())
	}
	if strangersRefused == 0 {
		t.Errorf("no login without a device token was refused during the attack: the account-wide lock never held")
	}
}

// postJSONFrom posts as a client behind the trusted proxy at ip.
func postJSONFrom(ip, url string, body, out any) (int, error) {
	return postJSONWith(http.DefaultClient, url, body, out, "X-Forwarded-For", ip)
}
