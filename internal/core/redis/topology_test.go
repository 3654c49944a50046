package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// The same behaviour on every topology: a single node, a 3-master Cluster
// and a Sentinel-managed primary with a replica. Each starts its servers
// and returns how an idp instance opens a client on them.
func topologies() map[string]func(t *testing.T) func(t *testing.T) *Client {
	return map[string]func(t *testing.T) func(t *testing.T) *Client{
		"single": func(t *testing.T) func(t *testing.T) *Client {
			r := testenv.StartRedis(t)
			return func(t *testing.T) *Client { return openT(t, r.URL(), Options{}) }
		},
		"cluster": func(t *testing.T) func(t *testing.T) *Client {
			cl := testenv.StartRedisCluster(t, 3)
			return func(t *testing.T) *Client { return openT(t, "", Options{ClusterAddrs: cl.Addrs()}) }
		},
		"sentinel": func(t *testing.T) func(t *testing.T) *Client {
			s := testenv.StartRedisSentinel(t)
			return func(t *testing.T) *Client {
				return openT(t, "", Options{SentinelMaster: s.Master, SentinelAddrs: s.SentinelAddrs()})
			}
		},
	}
}

func openT(t *testing.T, url string, o Options) *Client {
	t.Helper()
	c, err := Open(context.Background(), url, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTopologies(t *testing.T) {
	for name, start := range topologies() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open := start(t)
			c := open(t)
			t.Run("lockout counts exactly", func(t *testing.T) { lockoutCountsExactly(t, c) })
			t.Run("lock, unlock and levels", func(t *testing.T) { lockUnlock(t, c) })
			t.Run("limits hold", func(t *testing.T) { limitsHold(t, c) })
			t.Run("notices reach every instance", func(t *testing.T) { noticesReachEveryInstance(t, c, open) })
		})
	}
}

// lockoutCountsExactly: 200 concurrent attempts on each of 8 accounts
// (spread over the cluster's slots) count 1..200 per account, none twice.
func lockoutCountsExactly(t *testing.T, c *Client) {
	const accounts, n = 8, 200
	got := make([][]int, accounts)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for a := range accounts {
		got[a] = make([]int, n)
		for i := range n {
			wg.Go(func() {
				<-start
				v, _, err := reserve(context.Background(), c, fmt.Sprintf("default\x00storm%d@example.com", a), time.Minute)
				got[a][i] = v
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for a := range accounts {
		slices.Sort(got[a])
		for i, v := range got[a] {
			if v != i+1 {
				t.Fatalf("account %d: sorted attempts[%d] = %d, want %d", a, i, v, i+1)
			}
		}
	}
}

// lockUnlock runs the multi-key scripts: a source lock refuses, Unlock
// clears the account's and its sources' keys in one slot.
func lockUnlock(t *testing.T, c *Client) {
	ctx := context.Background()
	const account = "default\x00locked@example.com"
	mustReserve(t, c, account, time.Minute)
	if err := c.Lock(ctx, att(account), false, time.Minute); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if _, locked := mustReserve(t, c, account, time.Minute); locked <= 0 {
		t.Fatal("attempt during a source lock was not refused")
	}
	if _, err := c.NextLockLevel(ctx, att(account), true, time.Hour); err != nil {
		t.Fatalf("NextLockLevel: %v", err)
	}
	if err := c.Unlock(ctx, account); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if n, locked := mustReserve(t, c, account, time.Minute); locked > 0 || n != 1 {
		t.Fatalf("after Unlock: attempt %d, locked %v; want a fresh count", n, locked)
	}
	if err := c.ReleaseAttempt(ctx, att(account)); err != nil {
		t.Fatalf("ReleaseAttempt: %v", err)
	}
	if err := c.ResetAttempts(ctx, att(account)); err != nil {
		t.Fatalf("ResetAttempts: %v", err)
	}
}

// limitsHold: 300 concurrent requests against a limit of 50 let exactly
// 50 through; the two-window tally works across a slot boundary.
func limitsHold(t *testing.T, c *Client) {
	ctx := context.Background()
	const limit, n = 50, 300
	var allowed sync.WaitGroup
	var mu sync.Mutex
	ok, fails := 0, 0
	for range n {
		allowed.Go(func() {
			pass, _, err := c.Allow(ctx, "ip:203.0.113.7", limit, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails++
			} else if pass {
				ok++
			}
		})
	}
	allowed.Wait()
	if ok != limit || fails != 0 {
		t.Fatalf("%d of %d allowed (%d errors), want exactly %d", ok, n, fails, limit)
	}
	for i := range 3 {
		cur, _, err := c.Tally(ctx, "throttled:x", time.Minute)
		if err != nil || cur != i+1 {
			t.Fatalf("Tally %d = %d, %v", i, cur, err)
		}
	}
}

// noticesReachEveryInstance: three idp instances (clients) subscribe; a
// notice published by any one reaches all three.
func noticesReachEveryInstance(t *testing.T, c *Client, open func(*testing.T) *Client) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	instances := []*Client{c, open(t), open(t)}
	var subs []<-chan struct{}
	for _, in := range instances {
		sub := in.SubscribeKeysChanged(ctx)
		if got, _ := receive(sub, 5*time.Second); !got {
			t.Fatal("no value when the subscription was established")
		}
		subs = append(subs, sub)
	}
	for p, pub := range instances {
		if err := pub.PublishKeysChanged(ctx); err != nil {
			t.Fatalf("publish from %d: %v", p, err)
		}
		for i, sub := range subs {
			if got, _ := receive(sub, 2*time.Second); !got {
				t.Fatalf("instance %d missed the notice published by %d", i, p)
			}
		}
	}
}
