package core

import (
	"context"
	"errors"
	"testing"
	"time"
)

// batchStore has rows[kind] rows to prune and deletes up to the limit per
// batch, each batch taking batchTime.
type batchStore struct {
	MaintenanceStore
	rows      map[string]int
	batchTime time.Duration
	batches   int
}

func (s *batchStore) PruneBatch(_ context.Context, kind string, _ time.Time, limit int) ([]PruneCount, error) {
	time.Sleep(s.batchTime)
	s.batches++
	n := min(s.rows[kind], limit)
	s.rows[kind] -= n
	return []PruneCount{{Table: kind, Rows: int64(n)}}, nil
}

// The janitor rests after every full batch as long as the batch took, so
// catching up on a backlog leaves PostgreSQL half its time for requests;
// a kind that fits in one batch costs no rest.
func TestPruneRestsBetweenFullBatches(t *testing.T) {
	store := &batchStore{rows: map[string]int{PruneSessions: 10, PruneResetTokens: 3}, batchTime: 5 * time.Millisecond}
	var rests []time.Duration
	m := &Maintenance{
		env:   &env{cfg: Config{PruneBatch: 4, SessionRetention: time.Hour}, now: time.Now},
		store: store,
		rest: func(_ context.Context, d time.Duration) error {
			rests = append(rests, d)
			return nil
		},
	}
	var rep PruneReport
	if err := m.pruneRows(context.Background(), false, &rep); err != nil {
		t.Fatal(err)
	}
	// sessions: 4, 4, 2 (two full batches, two rests); reset tokens: 3
	// (not full, no rest); the other kinds: 0 each.
	if len(rests) != 2 {
		t.Fatalf("%d rests, want 2 (after each full batch): %v", len(rests), rests)
	}
	for _, d := range rests {
		if d < store.batchTime || d > maxPruneRest {
			t.Errorf("rest %v, want the batch's own time (>= %v), at most %v", d, store.batchTime, maxPruneRest)
		}
	}
	if store.rows[PruneSessions] != 0 || store.rows[PruneResetTokens] != 0 {
		t.Errorf("left %v, want nothing", store.rows)
	}
	if got, want := restAfter(time.Hour), maxPruneRest; got != want {
		t.Errorf("restAfter(1h) = %v, want %v", got, want)
	}
}

// A shutdown during the rest ends the run at once, as between batches.
func TestPruneRestEndsWithTheContext(t *testing.T) {
	store := &batchStore{rows: map[string]int{PruneSessions: 100}}
	m := &Maintenance{env: &env{cfg: Config{PruneBatch: 10, SessionRetention: time.Hour}, now: time.Now}, store: store}
	ctx, cancel := context.WithCancel(context.Background())
	m.rest = func(ctx context.Context, d time.Duration) error {
		cancel()
		return (&Maintenance{}).restBetweenBatches(ctx, time.Hour)
	}
	start := time.Now()
	var rep PruneReport
	err := m.pruneRows(ctx, false, &rep)
	if ErrorCode(err) != EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want unavailable wrapping context.Canceled", err)
	}
	if store.batches != 1 {
		t.Errorf("%d batches, want 1 before the rest was cut short", store.batches)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v after its context ended", took)
	}
}
