package cli

import (
	"log/slog"
	"runtime"
	"testing"
)

func TestReserveSchedulerThread(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	quiet := slog.New(slog.DiscardHandler)

	// The operator's GOMAXPROCS wins.
	reserveSchedulerThread(before, func(k string) string {
		if k == "GOMAXPROCS" {
			return "1"
		}
		return ""
	}, quiet)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS changed to %d despite the environment", got)
	}
	// As many hashing slots as threads: one more thread.
	reserveSchedulerThread(before, func(string) string { return "" }, quiet)
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS = %d, want %d", got, before+1)
	}
	// Fewer slots than threads: unchanged.
	reserveSchedulerThread(1, func(string) string { return "" }, quiet)
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS = %d, want it left at %d", got, before+1)
	}
}
