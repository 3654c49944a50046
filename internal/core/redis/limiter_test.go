package redis

import (
	"context"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// TestSourcesHaveTheirOwnBudget: a source's lock stops only that source;
// the account-wide lock stops every untrusted source but no trusted one.
func TestSourcesHaveTheirOwnBudget(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00victim@example.com"
	attacker := core.Attempt{Account: account, Source: "ip:attacker"}
	other := core.Attempt{Account: account, Source: "ip:elsewhere"}
	device := core.Attempt{Account: account, Source: "dev:owner", Trusted: true}
	res := func(a core.Attempt) core.Reservation {
		t.Helper()
		r, err := c.ReserveAttempt(ctx, a, time.Minute, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for want := 1; want <= 3; want++ {
		if r := res(attacker); r.SourceCount != want || r.AccountCount != want || r.Locked != 0 {
			t.Fatalf("attacker attempt %d: %+v", want, r)
		}
	}
	if r := res(other); r.SourceCount != 1 || r.AccountCount != 4 {
		t.Fatalf("another source counts on its own, and on the account: %+v", r)
	}
	if err := c.Lock(ctx, attacker, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := res(attacker); r.Locked <= 0 || r.AccountLocked {
		t.Fatalf("locked source: %+v, want a source lock", r)
	}
	if r := res(other); r.Locked != 0 || r.SourceCount != 2 {
		t.Fatalf("the attacker's lock stopped another source: %+v", r)
	}
	if err := c.Lock(ctx, other, true, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := res(core.Attempt{Account: account, Source: "ip:third"}); r.Locked <= 0 || !r.AccountLocked {
		t.Fatalf("account lock: an untrusted source got %+v", r)
	}
	if r := res(device); r.Locked != 0 || r.SourceCount != 1 {
		t.Fatalf("account lock stopped a trusted source: %+v", r)
	}
	// A success clears the source's counter, not the account's: the owner
	// signing in gives attackers elsewhere no fresh budget.
	if err := c.ResetAttempts(ctx, device); err != nil {
		t.Fatal(err)
	}
	if r := res(device); r.SourceCount != 1 || r.AccountCount != 1 {
		t.Fatalf("after a success: %+v, want counts 1 and 1 (the success is given back)", r)
	}
	// Release gives back to both counters.
	if err := c.ReleaseAttempt(ctx, device); err != nil {
		t.Fatal(err)
	}
	if r := res(device); r.SourceCount != 1 || r.AccountCount != 1 {
		t.Fatalf("after a release: %+v, want counts 1 and 1", r)
	}
	// Unlock clears the account's lock and every source's.
	if _, err := c.NextLockLevel(ctx, attacker, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, account); err != nil {
		t.Fatal(err)
	}
	for _, a := range []core.Attempt{attacker, other, device} {
		if r := res(a); r.Locked != 0 || r.SourceCount != 1 {
			t.Errorf("%s after Unlock: %+v", a.Source, r)
		}
	}
	if lvl, err := c.NextLockLevel(ctx, attacker, false, time.Hour); err != nil || lvl != 0 {
		t.Errorf("source level after Unlock = %d, %v; want 0", lvl, err)
	}
	// Another account shares nothing.
	if r := res(core.Attempt{Account: "default\x00other@example.com", Source: "ip:attacker"}); r.SourceCount != 1 || r.AccountCount != 1 {
		t.Errorf("another account: %+v", r)
	}
}

func TestTally(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const window = 300 * time.Millisecond
	// Start at the beginning of a window so the test doesn't straddle two.
	time.Sleep(window - time.Duration(time.Now().UnixMilli()%window.Milliseconds())*time.Millisecond)
	for want := 1; want <= 4; want++ {
		n, prev, err := c.Tally(ctx, "b", window)
		if err != nil || n != want || prev != 0 {
			t.Fatalf("tally %d: (%d, %d, %v)", want, n, prev, err)
		}
	}
	time.Sleep(window)
	n, prev, err := c.Tally(ctx, "b", window)
	if err != nil || n != 1 || prev != 4 {
		t.Fatalf("next window: (%d, %d, %v), want (1, 4)", n, prev, err)
	}
	if n, _, _ := c.Tally(ctx, "other", window); n != 1 {
		t.Errorf("buckets share a tally: %d", n)
	}
	if _, _, err := c.Tally(ctx, "b", 0); err == nil {
		t.Error("a zero window is accepted")
	}
}

// TestSuccessKeepsAccountFailures: a success clears its own source's count
// and gives back its own reservation, but the failures other sources made
// stay counted until the account's window ends.
func TestSuccessKeepsAccountFailures(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	const account = "default\x00owner@example.com"
	attacker := core.Attempt{Account: account, Source: "ip:attacker"}
	owner := core.Attempt{Account: account, Source: "dev:owner", Trusted: true}
	for range 3 {
		if _, err := c.ReserveAttempt(ctx, attacker, time.Minute, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		r, err := c.ReserveAttempt(ctx, owner, time.Minute, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if r.AccountCount != 4 || r.SourceCount != 1 {
			t.Fatalf("owner's login: %+v, want account count 4 (3 failures + this), source count 1", r)
		}
		if err := c.ResetAttempts(ctx, owner); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.ReserveAttempt(ctx, attacker, time.Minute, time.Hour)
	if err != nil || r.SourceCount != 4 || r.AccountCount != 4 {
		t.Fatalf("attacker after the owner's successes: %+v %v, want counts 4 and 4", r, err)
	}
}
