package e2e

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// lockAccount fails logins for email until the server answers 429.
func lockAccount(t *testing.T, base, email string) {
	t.Helper()
	for i := 0; ; i++ {
		if _, code := login(t, base, email, "not the password at all"); code == http.StatusTooManyRequests {
			return
		}
		if i > 20 {
			t.Fatalf("%s never got locked", email)
		}
	}
}

// TestServeOnRedisCluster: idp serve on a 3-master Redis Cluster, with no
// redis.url: logins work, a lockout holds across two instances.
func TestServeOnRedisCluster(t *testing.T) {
	e := newEnv(t)
	cl := testenv.StartRedisCluster(t, 3)
	e.vars["IDP_REDIS_URL"] = ""
	e.vars["IDP_REDIS_CLUSTER_ADDRS"] = strings.Join(cl.Addrs(), ",")
	e.vars["IDP_LOCKOUT_MAX_ATTEMPTS"] = "3"
	e.mustRun("", "migrate", "up")
	e.createUser("ann@example.com")
	e.createUser("bob@example.com")
	a, b := e.serve(nil), e.serve(nil)
	if _, code := login(t, a.URL, "bob@example.com", userPassword); code != 200 {
		t.Fatalf("login on a cluster = %d", code)
	}
	lockAccount(t, a.URL, "ann@example.com")
	if _, code := login(t, b.URL, "ann@example.com", userPassword); code != http.StatusTooManyRequests {
		t.Fatalf("the other instance let a locked account in: %d", code)
	}
}

// TestSentinelFailoverDuringLogins: logins keep coming while the Redis
// primary dies and Sentinel promotes its replica. The failover costs at
// most a few 503s, logins succeed again afterwards, and a locked account
// is still locked on the new primary.
func TestSentinelFailoverDuringLogins(t *testing.T) {
	e := newEnv(t)
	s := testenv.StartRedisSentinel(t)
	e.vars["IDP_REDIS_URL"] = ""
	e.vars["IDP_REDIS_SENTINEL_MASTER"] = s.Master
	e.vars["IDP_REDIS_SENTINEL_ADDRS"] = strings.Join(s.SentinelAddrs(), ",")
	e.vars["IDP_LOCKOUT_MAX_ATTEMPTS"] = "3"
	e.mustRun("", "migrate", "up")
	e.createUser("ann@example.com")
	e.createUser("bob@example.com")
	srv := e.serve(nil)
	lockAccount(t, srv.URL, "ann@example.com")

	var ok, unavailable, other, unlocked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c := &http.Client{Timeout: 15 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var tok tokens
				code, err := postJSON(c, srv.URL+"/api/v1/auth/token", map[string]string{"email": "bob@example.com", "password": userPassword}, &tok)
				switch {
				case err != nil:
					other.Add(1)
				case code == 200:
					ok.Add(1)
				case code == http.StatusServiceUnavailable:
					unavailable.Add(1)
					time.Sleep(100 * time.Millisecond) // a client honouring Retry-After would wait longer
				default:
					other.Add(1)
				}
				if code, err := postJSON(c, srv.URL+"/api/v1/auth/token", map[string]string{"email": "ann@example.com", "password": userPassword}, nil); err == nil && code == 200 {
					unlocked.Add(1)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := ok.Load()
	old := s.Primary.Port
	s.Primary.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if port, err := s.PrimaryPort(); err == nil && port != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sentinels did not fail over within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	failedOver := ok.Load()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("logins: %d ok before the kill, %d by the promotion, %d in all; %d answered 503; %d other", before, failedOver, ok.Load(), unavailable.Load(), other.Load())
	if unlocked.Load() > 0 {
		t.Fatalf("the locked account got in %d times during the failover", unlocked.Load())
	}
	if other.Load() > 0 {
		t.Fatalf("%d logins failed with something other than 503 (a 500 or a timeout)", other.Load())
	}
	if n := unavailable.Load(); n > 10 {
		t.Fatalf("the failover cost %d 503s, want a few", n)
	}
	if ok.Load() <= failedOver {
		t.Fatal("no login succeeded after the failover")
	}
	if _, code := login(t, srv.URL, "ann@example.com", userPassword); code != http.StatusTooManyRequests {
		t.Fatalf("ann's right password after the failover = %d, want 429", code)
	}
}
