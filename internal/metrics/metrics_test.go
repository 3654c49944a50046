package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idp-dev/idp/internal/core"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newMetrics() *Metrics {
	return New(Options{Version: "v1.2.3", Now: func() time.Time { return t0 }})
}

// TestObserverCounters: each event lands in its metric with its labels.
func TestObserverCounters(t *testing.T) {
	m := newMetrics()
	m.Login(core.LoginSuccess, "")
	m.Login(core.LoginFailure, core.ReasonBadPassword)
	m.Login(core.LoginFailure, core.ReasonBadPassword)
	m.Lockout(core.LockSource)
	m.Refresh(core.RefreshRotated, "")
	m.Refresh(core.RefreshReplayed, "")
	m.Refresh(core.RefreshReuse, "")
	m.Refresh(core.RefreshRefused, core.ReasonUnknownToken)
	m.KeysLoaded(false, nil)
	m.KeysLoaded(true, nil)
	m.KeysLoaded(false, errors.New("db down"))
	m.RedisError("evalsha")
	m.ObserveRequest("/api/v1/auth/token", "POST", 200, 30*time.Millisecond)
	m.ObserveRequest("/api/v1/auth/token", "POST", 400, 20*time.Millisecond)

	for _, tt := range []struct {
		got  float64
		want float64
		name string
	}{
		{testutil.ToFloat64(m.logins.WithLabelValues("success", "")), 1, "logins success"},
		{testutil.ToFloat64(m.logins.WithLabelValues("failure", "bad_password")), 2, "logins bad_password"},
		{testutil.ToFloat64(m.lockouts.WithLabelValues("source")), 1, "source lockouts"},
		{testutil.ToFloat64(m.refreshes.WithLabelValues("rotated", "")), 1, "rotated"},
		{testutil.ToFloat64(m.refreshes.WithLabelValues("replayed", "")), 1, "replayed"},
		{testutil.ToFloat64(m.refreshes.WithLabelValues("reuse_detected", "")), 1, "reuse"},
		{testutil.ToFloat64(m.refreshes.WithLabelValues("refused", "unknown_token")), 1, "refused"},
		{testutil.ToFloat64(m.keyRotations), 1, "rotations"},
		{testutil.ToFloat64(m.keyLoadFailures), 1, "load failures"},
		{testutil.ToFloat64(m.redisErrors.WithLabelValues("evalsha")), 1, "redis errors"},
		{testutil.ToFloat64(m.requests.WithLabelValues("/api/v1/auth/token", "POST", "200")), 1, "requests 200"},
		{testutil.ToFloat64(m.requests.WithLabelValues("/api/v1/auth/token", "POST", "400")), 1, "requests 400"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	want := `
# HELP idp_http_request_duration_seconds Time from a request's arrival to its answer, by route pattern and method.
# TYPE idp_http_request_duration_seconds histogram
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.001"} 0
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.0025"} 0
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.005"} 0
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.01"} 0
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.025"} 1
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.05"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.1"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.25"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="0.5"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="1"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="2.5"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="5"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="10"} 2
idp_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/token",le="+Inf"} 2
idp_http_request_duration_seconds_sum{method="POST",route="/api/v1/auth/token"} 0.05
idp_http_request_duration_seconds_count{method="POST",route="/api/v1/auth/token"} 2
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "idp_http_request_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

// TestHashSlot: every wait is in the histogram; only waits that got no
// slot count as rejections.
func TestHashSlot(t *testing.T) {
	m := newMetrics()
	m.HashSlot(0, core.HashAcquired)
	m.HashSlot(30*time.Millisecond, core.HashAcquired)
	m.HashSlot(time.Second, core.HashBusy)
	m.HashSlot(5*time.Millisecond, core.HashCancelled)
	if n := testutil.CollectAndCount(m.hashRejections); n != 2 {
		t.Fatalf("%d rejection series, want busy and cancelled", n)
	}
	if v := testutil.ToFloat64(m.hashRejections.WithLabelValues("busy")); v != 1 {
		t.Fatalf("busy = %v", v)
	}
	want := `
# HELP idp_hash_slot_wait_seconds Time a password hash or check waited for a hashing slot (0 when one was free), including waits that gave up.
# TYPE idp_hash_slot_wait_seconds histogram
idp_hash_slot_wait_seconds_bucket{le="0.001"} 1
idp_hash_slot_wait_seconds_bucket{le="0.005"} 2
idp_hash_slot_wait_seconds_bucket{le="0.01"} 2
idp_hash_slot_wait_seconds_bucket{le="0.025"} 2
idp_hash_slot_wait_seconds_bucket{le="0.05"} 3
idp_hash_slot_wait_seconds_bucket{le="0.1"} 3
idp_hash_slot_wait_seconds_bucket{le="0.25"} 3
idp_hash_slot_wait_seconds_bucket{le="0.5"} 3
idp_hash_slot_wait_seconds_bucket{le="1"} 4
idp_hash_slot_wait_seconds_bucket{le="2.5"} 4
idp_hash_slot_wait_seconds_bucket{le="+Inf"} 4
idp_hash_slot_wait_seconds_sum 1.035
idp_hash_slot_wait_seconds_count 4
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "idp_hash_slot_wait_seconds"); err != nil {
		t.Fatal(err)
	}
}

// TestJanitorRun: a run that worked adds its rows by table and sets the
// last success; skipped and failed runs are counted and change nothing else.
func TestJanitorRun(t *testing.T) {
	m := newMetrics()
	m.JanitorRun(core.PruneReport{StartedAt: t0, FinishedAt: t0.Add(1500 * time.Millisecond),
		Deleted:           []core.PruneCount{{Table: "sessions", Rows: 3}, {Table: "refresh_tokens", Rows: 12}},
		PartitionsCreated: []core.AuditPartition{{Name: "user_login_events_y2026m04"}},
		PartitionsDropped: []core.AuditPartition{{Name: "a"}, {Name: "b"}}}, nil)
	m.JanitorRun(core.PruneReport{Skipped: true, Deleted: []core.PruneCount{{Table: "sessions", Rows: 99}}}, nil)
	m.JanitorRun(core.PruneReport{}, errors.New("db down"))
	want := `
# HELP idp_janitor_deleted_rows_total Rows the janitor deleted, by table.
# TYPE idp_janitor_deleted_rows_total counter
idp_janitor_deleted_rows_total{table="refresh_tokens"} 12
idp_janitor_deleted_rows_total{table="sessions"} 3
# HELP idp_janitor_runs_total Janitor runs, by outcome (done, skipped: another instance held the lock, failed).
# TYPE idp_janitor_runs_total counter
idp_janitor_runs_total{outcome="done"} 1
idp_janitor_runs_total{outcome="failed"} 1
idp_janitor_runs_total{outcome="skipped"} 1
# HELP idp_janitor_audit_partitions_dropped_total Monthly audit partitions the janitor dropped (retention.audit).
# TYPE idp_janitor_audit_partitions_dropped_total counter
idp_janitor_audit_partitions_dropped_total 2
# HELP idp_janitor_audit_partitions_created_total Monthly audit partitions the janitor created ahead.
# TYPE idp_janitor_audit_partitions_created_total counter
idp_janitor_audit_partitions_created_total 1
# HELP idp_janitor_last_success_timestamp_seconds Unix time of this process's last janitor run that did its work (0: none yet).
# TYPE idp_janitor_last_success_timestamp_seconds gauge
idp_janitor_last_success_timestamp_seconds 1.7723664015e+09
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "idp_janitor_deleted_rows_total", "idp_janitor_runs_total",
		"idp_janitor_audit_partitions_dropped_total", "idp_janitor_audit_partitions_created_total", "idp_janitor_last_success_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.janitorDuration); n != 1 {
		t.Fatalf("%d duration series", n)
	}
}

// TestWatchers: the scrape-time collectors read their sources at each
// scrape, and a key set not loaded yet exports nothing rather than an age
// since 1970.
func TestWatchers(t *testing.T) {
	m := newMetrics()
	status := core.KeyStatus{}
	m.WatchKeys(func() core.KeyStatus { return status })
	inUse := 1
	m.WatchHashSlots(func() (int, int) { return inUse, 4 })
	pool := RedisPool{Hits: 10, Misses: 2, Timeouts: 1, Total: 5, Idle: 3}
	m.WatchRedisPool(func() RedisPool { return pool })
	if n, err := testutil.GatherAndCount(m.reg, "idp_signing_key_active_age_seconds"); err != nil || n != 0 {
		t.Fatalf("key age before the first load: %d series (%v)", n, err)
	}
	status = core.KeyStatus{Loaded: true, ActiveKID: "k1", ActiveSince: t0.Add(-36 * time.Hour), Published: 2, LoadedAt: t0.Add(-time.Second)}
	inUse = 3
	want := `
# HELP idp_signing_key_active_age_seconds Time since the active signing key started signing: a staged rotation (idp keys rotate) resets it.
# TYPE idp_signing_key_active_age_seconds gauge
idp_signing_key_active_age_seconds 129600
# HELP idp_signing_keys_published Keys in the JWKS this process serves (active, next and retired keys still verifying).
# TYPE idp_signing_keys_published gauge
idp_signing_keys_published 2
# HELP idp_hash_slots_in_use Hashing slots taken now.
# TYPE idp_hash_slots_in_use gauge
idp_hash_slots_in_use 3
# HELP idp_hash_slots Hashing slots (security.max_concurrent_hashes).
# TYPE idp_hash_slots gauge
idp_hash_slots 4
# HELP idp_redis_pool_connections Redis connections open, by state (idle, in_use).
# TYPE idp_redis_pool_connections gauge
idp_redis_pool_connections{state="idle"} 3
idp_redis_pool_connections{state="in_use"} 2
# HELP idp_redis_pool_timeouts_total Redis commands that waited for a pooled connection in vain.
# TYPE idp_redis_pool_timeouts_total counter
idp_redis_pool_timeouts_total 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "idp_signing_key_active_age_seconds", "idp_signing_keys_published",
		"idp_hash_slots_in_use", "idp_hash_slots", "idp_redis_pool_connections", "idp_redis_pool_timeouts_total"); err != nil {
		t.Fatal(err)
	}
}

// TestExposition: the handler serves the text format, every metric passes
// promlint (names, units, _total on counters, help), and the runtime,
// process and build collectors are there.
func TestExposition(t *testing.T) {
	m := newMetrics()
	m.WatchKeys(func() core.KeyStatus { return core.KeyStatus{Loaded: true, ActiveSince: t0, LoadedAt: t0} })
	m.WatchHashSlots(func() (int, int) { return 0, 2 })
	m.WatchRedisPool(func() RedisPool { return RedisPool{} })
	m.Login(core.LoginSuccess, "")
	m.ObserveRequest("/healthz", "GET", 200, time.Millisecond)
	m.JanitorRun(core.PruneReport{StartedAt: t0, FinishedAt: t0}, nil)
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_inuse_bytes ", "process_resident_memory_bytes ",
		`idp_build_info{goversion="go`, `version="v1.2.3"} 1`, "idp_logins_total{", "idp_janitor_run_duration_seconds_count 1"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("exposition lacks %q", name)
		}
	}
}
