package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestOnError: commands that work, scripts loaded on first use and
// missing keys are no errors; once Redis is down every failed command is
// told, by name. PoolStats follows the pool.
func TestOnError(t *testing.T) {
	r := testenv.StartRedis(t)
	var mu sync.Mutex
	failed := map[string]int{}
	c, err := Open(context.Background(), r.URL(), Options{OnError: func(cmd string) {
		mu.Lock()
		failed[cmd]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if _, _, err := c.Allow(ctx, "bucket", 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NextLockLevel(ctx, att("nobody"), false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, "nobody"); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(failed) != 0 {
		t.Fatalf("errors told while Redis works: %v", failed)
	}
	mu.Unlock()
	if s := c.PoolStats(); s.Hits+s.Misses == 0 || s.Total < 1 || s.Idle > s.Total {
		t.Fatalf("PoolStats() = %+v after four commands", s)
	}

	r.Stop()
	if _, _, err := c.Allow(ctx, "bucket", 10, time.Minute); err == nil {
		t.Fatal("Allow worked with Redis down")
	}
	mu.Lock()
	defer mu.Unlock()
	if failed["evalsha"] == 0 && failed["eval"] == 0 {
		t.Fatalf("the failed script was not told: %v", failed)
	}
}
