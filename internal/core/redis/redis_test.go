package redis

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/testenv"
)

// newClient starts a private redis-server and opens a client on it with the
// default options.
func newClient(t *testing.T) (*Client, *testenv.Redis) {
	t.Helper()
	r := testenv.StartRedis(t)
	c, err := Open(context.Background(), r.URL(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, r
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// att is an attempt on account from the tests' one source.
func att(account string) core.Attempt { return core.Attempt{Account: account, Source: "ip:test"} }

// src are the keys of att(account)'s source.
func src(account string) keyTriple {
	k := keysFor(att(account))
	return keyTriple{counter: k.srcCounter, lock: k.srcLock, level: k.srcLevel}
}

// reserve is ReserveAttempt for att(account), with the account window as
// long as the source's, reduced to the source's count and lock.
func reserve(ctx context.Context, c *Client, account string, window time.Duration) (int, time.Duration, error) {
	r, err := c.ReserveAttempt(ctx, att(account), window, window)
	return r.SourceCount, r.Locked, err
}

func mustReserve(t *testing.T, c *Client, account string, window time.Duration) (int, time.Duration) {
	t.Helper()
	n, locked, err := reserve(context.Background(), c, account, window)
	if err != nil {
		t.Fatalf("ReserveAttempt(%q): %v", account, err)
	}
	return n, locked
}

func keyExists(t *testing.T, c *Client, key string) bool {
	t.Helper()
	n, err := c.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

func pttl(t *testing.T, c *Client, key string) time.Duration {
	t.Helper()
	d, err := c.rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

func TestReserveAttemptCounts(t *testing.T) {
	c, _ := newClient(t)
	accounts := []struct {
		name, account string
	}{
		{"plain", "default\x00alice@example.com"},
		{"empty", ""},
		{"braces and spaces", "{t}\x00 {bob} \r\n*"},
		{"long", strings.Repeat("x", 10000)},
		{"invalid utf8", "\xff\xfe\x00"},
	}
	for _, tc := range accounts {
		t.Run(tc.name, func(t *testing.T) {
			for want := 1; want <= 5; want++ {
				n, locked := mustReserve(t, c, tc.account, time.Minute)
				if n != want || locked != 0 {
					t.Fatalf("attempt %d: got (%d, %s)", want, n, locked)
				}
			}
			k := src(tc.account)
			if len(k.counter) > 64 {
				t.Errorf("key %q is longer than needed", k.counter)
			}
			if d := pttl(t, c, k.counter); d <= 0 || d > time.Minute {
				t.Errorf("counter TTL = %s, want (0, 1m]", d)
			}
		})
	}
}

func TestReserveAttemptWindowExpires(t *testing.T) {
	c, _ := newClient(t)
	const account = "default\x00window@example.com"
	const window = 200 * time.Millisecond
	for want := 1; want <= 3; want++ {
		if n, _ := mustReserve(t, c, account, window); n != want {
			t.Fatalf("attempt = %d, want %d", n, want)
		}
	}
	// Later attempts must not push the window's end back.
	if d := pttl(t, c, src(account).counter); d > window || d <= 0 {
		t.Fatalf("counter TTL = %s, want (0, %s]", d, window)
	}
	eventually(t, 2*time.Second, "the window to end", func() bool {
		return !keyExists(t, c, src(account).counter)
	})
	if n, _ := mustReserve(t, c, account, window); n != 1 {
		t.Fatalf("first attempt of a new window = %d, want 1", n)
	}
}

func TestReserveAttemptRepairsCounterWithoutExpiry(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00noexpiry@example.com"
	k := src(account)
	if err := c.rdb.Set(ctx, k.counter, 4, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := mustReserve(t, c, account, time.Minute); n != 5 {
		t.Fatalf("attempt = %d, want 5", n)
	}
	if d := pttl(t, c, k.counter); d <= 0 {
		t.Fatalf("counter TTL = %s, want an expiry", d)
	}
}

func TestLock(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00locked@example.com"
	k := src(account)
	for range 3 {
		mustReserve(t, c, account, time.Minute)
	}
	if err := c.Lock(ctx, att(account), false, 5*time.Second); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if keyExists(t, c, k.counter) {
		t.Fatal("Lock left the attempt counter")
	}
	before := pttl(t, c, k.lock)
	for range 3 {
		n, locked := mustReserve(t, c, account, time.Minute)
		if n != 0 || locked <= 0 || locked > 5*time.Second {
			t.Fatalf("ReserveAttempt while locked = (%d, %s), want (0, (0, 5s])", n, locked)
		}
	}
	if keyExists(t, c, k.counter) {
		t.Fatal("attempts during a lock were counted")
	}
	if after := pttl(t, c, k.lock); after > before {
		t.Fatalf("attempts extended the lock: %s -> %s", before, after)
	}
	// A success (ResetAttempts) does not lift a lock.
	if err := c.ResetAttempts(ctx, att(account)); err != nil {
		t.Fatal(err)
	}
	if _, locked := mustReserve(t, c, account, time.Minute); locked == 0 {
		t.Fatal("ResetAttempts lifted the lock")
	}
	// Another account is unaffected.
	if n, locked := mustReserve(t, c, "default\x00other@example.com", time.Minute); n != 1 || locked != 0 {
		t.Fatalf("other account = (%d, %s), want (1, 0)", n, locked)
	}
}

func TestLockExpires(t *testing.T) {
	c, _ := newClient(t)
	const account = "default\x00brief@example.com"
	if err := c.Lock(context.Background(), att(account), false, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, locked := mustReserve(t, c, account, time.Minute); locked <= 0 || locked > 150*time.Millisecond {
		t.Fatalf("locked = %s, want (0, 150ms]", locked)
	}
	// Polling with ReserveAttempt is safe: attempts during the lock count nothing.
	var n int
	eventually(t, 2*time.Second, "the lock to end", func() bool {
		n, _ = mustReserve(t, c, account, time.Minute)
		return n != 0
	})
	if n != 1 {
		t.Fatalf("first attempt after the lock = %d, want 1", n)
	}
}

func TestLockWithoutExpiryStaysLocked(t *testing.T) {
	c, _ := newClient(t)
	const account = "default\x00manual@example.com"
	if err := c.rdb.Set(context.Background(), src(account).lock, "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, locked := mustReserve(t, c, account, time.Minute)
	if n != 0 || locked != time.Minute {
		t.Fatalf("ReserveAttempt = (%d, %s), want (0, 1m)", n, locked)
	}
}

func TestUnlockClearsAll(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00unlock@example.com"
	k := src(account)
	mustReserve(t, c, account, time.Minute)
	if _, err := c.NextLockLevel(ctx, att(account), false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, att(account), false, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, c, account, time.Minute)
	// The counter is gone after Lock; recreate it to see Unlock clear it.
	if err := c.rdb.Set(ctx, k.counter, 3, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, account); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	for _, key := range []string{k.lock, k.counter, k.level} {
		if keyExists(t, c, key) {
			t.Errorf("Unlock left %s", key)
		}
	}
	if n, locked := mustReserve(t, c, account, time.Minute); n != 1 || locked != 0 {
		t.Fatalf("after Unlock: (%d, %s), want (1, 0)", n, locked)
	}
	if lvl, err := c.NextLockLevel(ctx, att(account), false, time.Hour); err != nil || lvl != 0 {
		t.Fatalf("NextLockLevel after Unlock = %d, %v; want 0", lvl, err)
	}
}

func TestResetAttempts(t *testing.T) {
	c, _ := newClient(t)
	const account = "default\x00reset@example.com"
	for range 4 {
		mustReserve(t, c, account, time.Minute)
	}
	if err := c.ResetAttempts(context.Background(), att(account)); err != nil {
		t.Fatalf("ResetAttempts: %v", err)
	}
	if n, _ := mustReserve(t, c, account, time.Minute); n != 1 {
		t.Fatalf("attempt after reset = %d, want 1", n)
	}
}

func TestNextLockLevel(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00level@example.com"
	level := src(account).level
	for want := range 4 {
		got, err := c.NextLockLevel(ctx, att(account), false, time.Hour)
		if err != nil || got != want {
			t.Fatalf("NextLockLevel = %d, %v; want %d", got, err, want)
		}
	}
	// Each lock restarts the memory of earlier ones.
	if _, err := c.NextLockLevel(ctx, att(account), false, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := pttl(t, c, level); d <= 0 || d > 150*time.Millisecond {
		t.Fatalf("level TTL = %s, want (0, 150ms]", d)
	}
	eventually(t, 2*time.Second, "the level to expire", func() bool { return !keyExists(t, c, level) })
	if got, err := c.NextLockLevel(ctx, att(account), false, time.Hour); err != nil || got != 0 {
		t.Fatalf("NextLockLevel after expiry = %d, %v; want 0", got, err)
	}
}

func TestReserveAttemptConcurrent(t *testing.T) {
	c, _ := newClient(t)
	const account = "default\x00storm@example.com"
	const n = 200
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], _, errs[i] = reserve(context.Background(), c, account, time.Minute)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("sorted attempts[%d] = %d, want %d (all: %v)", i, v, i+1, got)
		}
	}
}

func TestAllow(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		calls  int
		wantOK []bool
	}{
		{"within limit", 3, 10 * time.Second, 3, []bool{true, true, true}},
		{"over limit", 2, 10 * time.Second, 4, []bool{true, true, false, false}},
		{"limit one", 1, 10 * time.Second, 2, []bool{true, false}},
		{"unlimited", 0, 10 * time.Second, 5, []bool{true, true, true, true, true}},
		{"negative is unlimited", -1, 10 * time.Second, 2, []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bucket := "token:ip:192.0.2.1:" + tc.name
			for i := range tc.calls {
				ok, retry, err := c.Allow(ctx, bucket, tc.limit, tc.window)
				if err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
				if ok != tc.wantOK[i] {
					t.Fatalf("call %d: ok = %v, want %v", i+1, ok, tc.wantOK[i])
				}
				if ok && retry != 0 {
					t.Fatalf("call %d: retryAfter = %s on success", i+1, retry)
				}
				if !ok && (retry <= 0 || retry > tc.window) {
					t.Fatalf("call %d: retryAfter = %s, want (0, %s]", i+1, retry, tc.window)
				}
			}
			if tc.limit <= 0 && keyExists(t, c, bucketKey(bucket)) {
				t.Fatal("an unlimited bucket was stored")
			}
		})
	}
}

func TestAllowBucketsAreIndependent(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	if ok, _, _ := c.Allow(ctx, "a", 1, time.Minute); !ok {
		t.Fatal("first call to a refused")
	}
	if ok, _, _ := c.Allow(ctx, "a", 1, time.Minute); ok {
		t.Fatal("second call to a allowed")
	}
	for _, b := range []string{"b", "A", "a ", "a\x00"} {
		if ok, _, err := c.Allow(ctx, b, 1, time.Minute); !ok || err != nil {
			t.Fatalf("bucket %q: ok=%v err=%v, want a fresh bucket", b, ok, err)
		}
	}
}

func TestAllowWindowEndsAndRetryAfterFloor(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const window = 200 * time.Millisecond
	c.Allow(ctx, "short", 1, window)
	ok, retry, err := c.Allow(ctx, "short", 1, window)
	if err != nil || ok {
		t.Fatalf("second call: ok=%v err=%v, want refused", ok, err)
	}
	// Retry-After is whole seconds on the wire; 0 would invite a busy loop.
	if retry != time.Second {
		t.Fatalf("retryAfter = %s, want the 1s floor", retry)
	}
	eventually(t, 2*time.Second, "the window to end", func() bool { return !keyExists(t, c, bucketKey("short")) })
	if ok, _, err := c.Allow(ctx, "short", 1, window); !ok || err != nil {
		t.Fatalf("new window: ok=%v err=%v", ok, err)
	}
}

func TestAllowRepairsBucketWithoutExpiry(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	key := bucketKey("stuck")
	if err := c.rdb.Set(ctx, key, 10, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ok, retry, err := c.Allow(ctx, "stuck", 1, 30*time.Second)
	if err != nil || ok || retry != 30*time.Second {
		t.Fatalf("Allow = %v, %s, %v; want refused for the window", ok, retry, err)
	}
	if d := pttl(t, c, key); d <= 0 {
		t.Fatalf("bucket TTL = %s, want an expiry", d)
	}
}

func TestNonPositiveDurations(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	calls := map[string]func() error{
		"ReserveAttempt": func() error { _, _, err := reserve(ctx, c, "a", 0); return err },
		"NextLockLevel":  func() error { _, err := c.NextLockLevel(ctx, att("a"), false, -time.Second); return err },
		"Lock":           func() error { return c.Lock(ctx, att("a"), false, 0) },
		"Allow":          func() error { _, _, err := c.Allow(ctx, "a", 1, 0); return err },
	}
	for name, call := range calls {
		if code := core.ErrorCode(call()); code != core.EINTERNAL {
			t.Errorf("%s with a non-positive duration: code %q, want %q", name, code, core.EINTERNAL)
		}
	}
	if _, locked := mustReserve(t, c, "a", time.Minute); locked != 0 {
		t.Fatal("Lock(0) locked the account")
	}
}

func TestSubMillisecondDurationsRoundUp(t *testing.T) {
	c, _ := newClient(t)
	if err := c.Lock(context.Background(), att("a"), false, time.Microsecond); err != nil {
		t.Fatalf("Lock(1µs): %v", err)
	}
	if got := ms(time.Microsecond); got != 1 {
		t.Fatalf("ms(1µs) = %d, want 1", got)
	}
	if got := ms(1500 * time.Millisecond); got != 1500 {
		t.Fatalf("ms(1.5s) = %d, want 1500", got)
	}
}

// limiterCalls exercises every method that needs Redis.
func limiterCalls(c *Client) map[string]func(ctx context.Context) error {
	const account = "default\x00down@example.com"
	return map[string]func(ctx context.Context) error{
		"ReserveAttempt": func(ctx context.Context) error {
			n, locked, err := reserve(ctx, c, account, time.Minute)
			if err != nil && (n != 0 || locked != 0) {
				return errors.New("a failed ReserveAttempt returned an attempt")
			}
			return err
		},
		"ResetAttempts": func(ctx context.Context) error { return c.ResetAttempts(ctx, att(account)) },
		"NextLockLevel": func(ctx context.Context) error {
			_, err := c.NextLockLevel(ctx, att(account), false, time.Hour)
			return err
		},
		"Lock":   func(ctx context.Context) error { return c.Lock(ctx, att(account), false, time.Millisecond) },
		"Unlock": func(ctx context.Context) error { return c.Unlock(ctx, account) },
		"Allow": func(ctx context.Context) error {
			ok, _, err := c.Allow(ctx, "bucket", 5, time.Minute)
			if err != nil && ok {
				return errors.New("a failed Allow allowed") // fail closed
			}
			return err
		},
		"Ping":               c.Ping,
		"PublishKeysChanged": c.PublishKeysChanged,
	}
}

func assertUnavailable(t *testing.T, name string, err error, elapsed time.Duration) {
	t.Helper()
	if code := core.ErrorCode(err); code != core.EUNAVAILABLE {
		t.Errorf("%s: code %q (err %v), want %q", name, code, err, core.EUNAVAILABLE)
		return
	}
	if ra := core.RetryAfter(err); ra != 2*time.Second {
		t.Errorf("%s: RetryAfter = %s, want 2s", name, ra)
	}
	if msg := core.ErrorMessage(err); msg != "rate limiter is temporarily unavailable" {
		t.Errorf("%s: message %q", name, msg)
	}
	if elapsed >= 3*time.Second {
		t.Errorf("%s took %s to fail, want < 3s", name, elapsed)
	}
}

func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	c, r := newClient(t)
	ctx := context.Background()
	calls := limiterCalls(c)
	// Warm the pool and the script cache so the outage hits live connections
	// and the restart empties the cache (EVALSHA must fall back to EVAL).
	for name, call := range calls {
		if err := call(ctx); err != nil {
			t.Fatalf("%s before the outage: %v", name, err)
		}
	}

	r.Stop()
	for range 2 { // the second round meets go-redis's open dial breaker
		for name, call := range calls {
			start := time.Now()
			err := call(ctx)
			assertUnavailable(t, name, err, time.Since(start))
		}
	}
	// Unlimited buckets need no Redis and stay open.
	if ok, _, err := c.Allow(ctx, "bucket", 0, time.Minute); !ok || err != nil {
		t.Fatalf("unlimited Allow during the outage = %v, %v", ok, err)
	}

	r.Start()
	eventually(t, 10*time.Second, "the client to reconnect", func() bool { return c.Ping(ctx) == nil })
	for name, call := range calls {
		if err := call(ctx); err != nil {
			t.Errorf("%s after the restart: %v", name, err)
		}
	}
	if n, _ := mustReserve(t, c, "default\x00fresh@example.com", time.Minute); n != 1 {
		t.Fatalf("attempt after restart = %d, want 1", n)
	}
}

func TestCallerDeadlineBoundsCalls(t *testing.T) {
	c, _ := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range limiterCalls(c) {
		start := time.Now()
		err := call(ctx)
		assertUnavailable(t, name, err, time.Since(start))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v does not wrap context.Canceled", name, err)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Run("bad URLs", func(t *testing.T) {
		for _, u := range []string{
			"redis://:s3cretpw@127.0.0.1:1/0x",
			"http://:s3cretpw@127.0.0.1:6379/0",
			"redis://:s3cretpw@127.0.0.1:6379/0/1",
			"redis://:s3cretpw@127.0.0.1:6379/0?read_timeout=s3cretpw",
			"redis://:s3cretpw@127.0.0.1:6379/0?s3cretpw=1",
			"redis://:s3cretpw@[::1/0",
			"unix://:s3cretpw@",
			"redis://:s3cretpw@host\x7f/0",
		} {
			c, err := Open(context.Background(), u, Options{})
			if err == nil {
				_ = c.Close()
				t.Errorf("Open(%q) succeeded", u)
				continue
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Errorf("Open(%q) error leaks the password: %v", u, err)
			}
			if errors.Unwrap(err) != nil {
				t.Errorf("Open(%q) error wraps a cause that may quote the URL", u)
			}
			if code := core.ErrorCode(err); code != core.EINVALID {
				t.Errorf("Open(%q) code %q, want %q", u, code, core.EINVALID)
			}
		}
	})

	t.Run("sentinel without addresses", func(t *testing.T) {
		if _, err := Open(context.Background(), "", Options{SentinelMaster: "idp"}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("Open(sentinel master, no addrs) = %v, want %s", err, core.EINVALID)
		}
		if _, err := Open(context.Background(), "redis://:s3cretpw@[::1/0", Options{ClusterAddrs: []string{"127.0.0.1:1"}}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("Open(cluster, bad URL) = %v, want %s", err, core.EINVALID)
		}
	})

	t.Run("Redis down at start", func(t *testing.T) {
		url := "redis://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/0"
		c, err := Open(context.Background(), url, Options{})
		if err != nil {
			t.Fatalf("Open with Redis down: %v", err)
		}
		defer c.Close()
		start := time.Now()
		err = c.Ping(context.Background())
		assertUnavailable(t, "Ping", err, time.Since(start))
	})

	t.Run("options", func(t *testing.T) {
		tests := []struct {
			name            string
			url             string
			opts            Options
			dial, read, wr  time.Duration
			pool            int
			wantDefaultPool bool
		}{
			{"defaults", "redis://127.0.0.1:6379/0", Options{}, time.Second, time.Second, time.Second, 0, true},
			{"explicit", "redis://127.0.0.1:6379/0?read_timeout=7s",
				Options{DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second, PoolSize: 5},
				2 * time.Second, 3 * time.Second, 4 * time.Second, 5, false},
			{"from URL", "redis://127.0.0.1:6379/0?dial_timeout=5s&read_timeout=6s&write_timeout=7s&pool_size=8",
				Options{}, 5 * time.Second, 6 * time.Second, 7 * time.Second, 8, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c, err := Open(context.Background(), tc.url, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				o := c.node
				if o.DialTimeout != tc.dial || o.ReadTimeout != tc.read || o.WriteTimeout != tc.wr {
					t.Errorf("timeouts = %s/%s/%s, want %s/%s/%s", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, tc.dial, tc.read, tc.wr)
				}
				if !tc.wantDefaultPool && o.PoolSize != tc.pool {
					t.Errorf("PoolSize = %d, want %d", o.PoolSize, tc.pool)
				}
				if o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
					t.Errorf("MaxRetries=%d DialerRetries=%d ContextTimeoutEnabled=%v, want 1/1/true",
						o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled)
				}
			})
		}
	})
}

// receive waits up to d for a value; false if none came.
func receive(ch <-chan struct{}, d time.Duration) (got, open bool) {
	select {
	case _, ok := <-ch:
		return ok, ok
	case <-time.After(d):
		return false, true
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestKeysChanged(t *testing.T) {
	c, _ := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := c.SubscribeKeysChanged(ctx)
	if got, _ := receive(sub, 2*time.Second); !got {
		t.Fatal("no value when the subscription was established")
	}

	if err := c.PublishKeysChanged(ctx); err != nil {
		t.Fatalf("PublishKeysChanged: %v", err)
	}
	if got, _ := receive(sub, time.Second); !got {
		t.Fatal("notice not received within 1s")
	}

	// A second server sees the same notice.
	other := c.SubscribeKeysChanged(ctx)
	receive(other, 2*time.Second)
	if err := c.PublishKeysChanged(ctx); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan struct{}{sub, other} {
		if got, _ := receive(ch, time.Second); !got {
			t.Fatalf("subscriber %d missed the notice", i)
		}
	}

	// Unread notices merge into one and never block the subscription.
	for range 5 {
		if err := c.PublishKeysChanged(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got, _ := receive(sub, time.Second); !got {
		t.Fatal("burst of notices lost")
	}
	if got, _ := receive(sub, 200*time.Millisecond); got {
		t.Fatal("burst of notices was not coalesced")
	}
	if err := c.PublishKeysChanged(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := receive(sub, time.Second); !got {
		t.Fatal("notice after a burst not received")
	}

	cancel()
	eventually(t, 2*time.Second, "the channel to close", func() bool {
		_, open := receive(sub, 10*time.Millisecond)
		return !open
	})
}

// waitDelivered publishes until Redis reports a subscriber and then expects
// the notice: draining first means the value seen comes from this publish
// (or a resubscription, which the caller must treat the same way).
func waitDelivered(t *testing.T, c *Client, sub <-chan struct{}) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 10*time.Second, "the subscription to be re-established", func() bool {
		drain(sub)
		n, err := c.rdb.Publish(ctx, keysChannel, "changed").Result()
		if err != nil || n == 0 {
			time.Sleep(90 * time.Millisecond)
			return false
		}
		return true
	})
	if got, _ := receive(sub, time.Second); !got {
		t.Fatal("notice not delivered after reconnection")
	}
}

func TestKeysChangedSurvivesRestart(t *testing.T) {
	c, r := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := c.SubscribeKeysChanged(ctx)
	if got, _ := receive(sub, 2*time.Second); !got {
		t.Fatal("no value when the subscription was established")
	}

	for i := range 2 {
		r.Stop()
		start := time.Now()
		err := c.PublishKeysChanged(ctx)
		assertUnavailable(t, "PublishKeysChanged", err, time.Since(start))
		time.Sleep(300 * time.Millisecond) // let the receive loop meet the outage
		r.Start()
		// The resubscription itself is announced: notices sent during the
		// outage were lost, so the reader must reload.
		if got, _ := receive(sub, 10*time.Second); !got {
			t.Fatalf("restart %d: resubscription not announced", i+1)
		}
		waitDelivered(t, c, sub)
		if err := c.PublishKeysChanged(ctx); err != nil {
			t.Fatalf("restart %d: PublishKeysChanged: %v", i+1, err)
		}
		if got, _ := receive(sub, time.Second); !got {
			t.Fatalf("restart %d: notice not received", i+1)
		}
	}
}

func TestKeysChangedSubscribedWhileDown(t *testing.T) {
	c, r := newClient(t)
	r.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := c.SubscribeKeysChanged(ctx)
	if got, _ := receive(sub, 300*time.Millisecond); got {
		t.Fatal("value delivered while Redis is down")
	}
	r.Start()
	if got, _ := receive(sub, 10*time.Second); !got {
		t.Fatal("subscription not announced once Redis came up")
	}
	waitDelivered(t, c, sub)
}

func TestKeysChangedEndsWithClient(t *testing.T) {
	r := testenv.StartRedis(t)
	c, err := Open(context.Background(), r.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := c.SubscribeKeysChanged(context.Background())
	receive(sub, 2*time.Second)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eventually(t, 5*time.Second, "the channel to close", func() bool {
		_, open := receive(sub, 10*time.Millisecond)
		return !open
	})
}

// busyLoop stalls the whole server for ARGV[1] ms, like a hung host: new
// connections are accepted by the kernel but nothing answers.
const busyLoop = `
local function now() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1`

func TestRedisHungTimesOut(t *testing.T) {
	c, r := newClient(t)
	ctx := context.Background()
	if _, _, err := reserve(ctx, c, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	hog, err := Open(ctx, r.URL(), Options{ReadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	done := make(chan error, 1)
	go func() { done <- hog.rdb.Eval(ctx, busyLoop, nil, 4000).Err() }()
	time.Sleep(200 * time.Millisecond)

	var wg sync.WaitGroup
	for name, call := range limiterCalls(c) {
		wg.Go(func() {
			start := time.Now()
			err := call(ctx)
			elapsed := time.Since(start)
			assertUnavailable(t, name, err, elapsed)
			t.Logf("%s failed after %s: %v", name, elapsed.Round(time.Millisecond), err)
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("busy script: %v", err)
	}
	eventually(t, 5*time.Second, "Redis to answer again", func() bool { return c.Ping(ctx) == nil })
}

func TestKeysChangedLeavesNoGoroutines(t *testing.T) {
	c, _ := newClient(t)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	sub := c.SubscribeKeysChanged(ctx)
	receive(sub, 2*time.Second)
	// Notices nobody reads must not keep anything alive after cancel.
	for range 3 {
		if err := c.PublishKeysChanged(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	eventually(t, 3*time.Second, "the subscription's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestRouteDriverLog(t *testing.T) {
	var buf bytes.Buffer
	RouteDriverLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer RouteDriverLog(slog.New(slog.DiscardHandler))
	slogDriverLog{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.Printf(context.Background(), "dial %s failed", "127.0.0.1:1")
	if !strings.Contains(buf.String(), "dial 127.0.0.1:1 failed") {
		t.Fatalf("log = %q", buf.String())
	}
}

func TestReleaseAttempt(t *testing.T) {
	r := testenv.StartRedis(t)
	c, err := Open(context.Background(), r.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// Releasing on an account with no counter creates nothing.
	if err := c.ReleaseAttempt(ctx, att("acct")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := reserve(ctx, c, "acct", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ReleaseAttempt(ctx, att("acct")); err != nil {
		t.Fatal(err)
	}
	n, _, err := reserve(ctx, c, "acct", time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("after 3 reserved and 1 released, the next attempt is %d (%v), want 3", n, err)
	}
	r.Stop()
	if err := c.ReleaseAttempt(ctx, att("acct")); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("release with Redis down: %v", err)
	}
}
