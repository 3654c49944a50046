// Package metrics exposes what idp serve does in the Prometheus text format
// (docs/operations.md, "Metrics"). A Metrics is the core.Observer of the
// server's services and the request observer of its HTTP face; collectors
// over the database pool, the Redis pool, the signing keys and the hashing
// slots are read at scrape time. Every label value comes from a fixed
// vocabulary (route patterns, outcome and reason codes, table names),
// never from a request, so no email, token or secret can become one and
// the number of series stays bounded.
package metrics

import (
	"database/sql"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idp-dev/idp/internal/core"
)

// Options configure a Metrics.
type Options struct {
	// Version is idp's version, the label of idp_build_info.
	Version string
	// Now is the clock key ages are measured with; nil means time.Now.
	Now func() time.Time
	// Logger gets the errors of a failed scrape; nil discards them.
	Logger *slog.Logger
}

// Metrics holds idp's metrics on a registry of its own.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time
	log *slog.Logger

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	logins          *prometheus.CounterVec
	lockouts        *prometheus.CounterVec
	refreshes       *prometheus.CounterVec
	hashWait        prometheus.Histogram
	hashRejections  *prometheus.CounterVec
	keyRotations    prometheus.Counter
	keyLoadFailures prometheus.Counter
	janitorRuns     *prometheus.CounterVec
	janitorDeleted  *prometheus.CounterVec
	janitorDropped  prometheus.Counter
	janitorCreated  prometheus.Counter
	janitorDuration prometheus.Histogram
	janitorSuccess  prometheus.Gauge
	redisErrors     *prometheus.CounterVec
}

var _ core.Observer = (*Metrics)(nil)

// Latency buckets: a /me takes about a millisecond, a login at bcrypt cost
// 12 a few hundred, and the request timeout is 10 s.
var (
	requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// The hashing queue gives up after 1 s.
	hashWaitBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	janitorBuckets  = prometheus.ExponentialBuckets(.01, 4, 8) // 10 ms to 2.7 min
)

// New makes the metrics with the Go runtime and process collectors.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: opts.Now, log: opts.Logger}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.requests = counter("idp_http_requests_total", "HTTP requests answered, by route pattern, method and status code.", "route", "method", "code")
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "idp_http_request_duration_seconds",
		Help: "Time from a request's arrival to its answer, by route pattern and method.", Buckets: requestBuckets}, []string{"route", "method"})
	m.logins = counter("idp_logins_total", "Password checks (API, hosted pages, OAuth password grant), by outcome (success, failure, error) and reason.", "outcome", "reason")
	m.lockouts = counter("idp_lockouts_total", "Locks set by failed password checks, by scope (source: one client of an account; account: the whole account).", "scope")
	m.refreshes = counter("idp_refreshes_total", "Refresh tokens presented, by outcome (rotated, replayed, reuse_detected, refused, error) and reason.", "outcome", "reason")
	m.hashWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "idp_hash_slot_wait_seconds",
		Help: "Time a password hash or check waited for a hashing slot (0 when one was free), including waits that gave up.", Buckets: hashWaitBuckets})
	m.hashRejections = counter("idp_hash_slot_rejections_total", "Hash requests that got no slot, by reason (busy: answered 503 after the queue wait; cancelled: the request ended first).", "reason")
	m.keyRotations = prometheus.NewCounter(prometheus.CounterOpts{Name: "idp_signing_key_rotations_total",
		Help: "Changes of the active signing key this process has loaded."})
	m.keyLoadFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "idp_signing_key_load_failures_total",
		Help: "Failed loads of the signing keys (the process keeps the set it had)."})
	m.janitorRuns = counter("idp_janitor_runs_total", "Janitor runs, by outcome (done, skipped: another instance held the lock, failed).", "outcome")
	m.janitorDeleted = counter("idp_janitor_deleted_rows_total", "Rows the janitor deleted, by table.", "table")
	m.janitorDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "idp_janitor_audit_partitions_dropped_total",
		Help: "Monthly audit partitions the janitor dropped (retention.audit)."})
	m.janitorCreated = prometheus.NewCounter(prometheus.CounterOpts{Name: "idp_janitor_audit_partitions_created_total",
		Help: "Monthly audit partitions the janitor created ahead."})
	m.janitorDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "idp_janitor_run_duration_seconds",
		Help: "Duration of janitor runs that did their work.", Buckets: janitorBuckets})
	m.janitorSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "idp_janitor_last_success_timestamp_seconds",
		Help: "Unix time of this process's last janitor run that did its work (0: none yet)."})
	m.redisErrors = counter("idp_redis_errors_total", "Redis commands and dials that failed (a missing key is no failure), by command.", "command")
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Name: "idp_build_info", Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()}})
	buildInfo.Set(1)
	m.reg.MustRegister(m.requestDuration, m.hashWait, m.keyRotations, m.keyLoadFailures, m.janitorDropped,
		m.janitorCreated, m.janitorDuration, m.janitorSuccess, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Gatherer is the registry, for tests and linting.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveRequest counts one answered request. route is the pattern that
// served it (internal/server passes "unmatched" for none), method one of
// the standard methods or "other": both bounded by the caller.
func (m *Metrics) ObserveRequest(route, method string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// Login implements core.Observer.
func (m *Metrics) Login(outcome, reason string) { m.logins.WithLabelValues(outcome, reason).Inc() }

// Lockout implements core.Observer.
func (m *Metrics) Lockout(scope string) { m.lockouts.WithLabelValues(scope).Inc() }

// Refresh implements core.Observer.
func (m *Metrics) Refresh(outcome, reason string) { m.refreshes.WithLabelValues(outcome, reason).Inc() }

// HashSlot implements core.Observer.
func (m *Metrics) HashSlot(wait time.Duration, outcome string) {
	m.hashWait.Observe(wait.Seconds())
	if outcome != core.HashAcquired {
		m.hashRejections.WithLabelValues(outcome).Inc()
	}
}

// KeysLoaded implements core.Observer.
func (m *Metrics) KeysLoaded(rotated bool, err error) {
	switch {
	case err != nil:
		m.keyLoadFailures.Inc()
	case rotated:
		m.keyRotations.Inc()
	}
}

// JanitorRun implements core.Observer.
func (m *Metrics) JanitorRun(rep core.PruneReport, err error) {
	switch {
	case err != nil:
		m.janitorRuns.WithLabelValues("failed").Inc()
		return
	case rep.Skipped:
		m.janitorRuns.WithLabelValues("skipped").Inc()
		return
	}
	m.janitorRuns.WithLabelValues("done").Inc()
	for _, c := range rep.Deleted {
		m.janitorDeleted.WithLabelValues(c.Table).Add(float64(c.Rows))
	}
	m.janitorDropped.Add(float64(len(rep.PartitionsDropped)))
	m.janitorCreated.Add(float64(len(rep.PartitionsCreated)))
	m.janitorDuration.Observe(rep.FinishedAt.Sub(rep.StartedAt).Seconds())
	m.janitorSuccess.Set(float64(rep.FinishedAt.UnixNano()) / 1e9)
}

// RedisError counts one failed Redis command (its lower-case name, or
// "dial"), for core/redis's error hook.
func (m *Metrics) RedisError(command string) { m.redisErrors.WithLabelValues(command).Inc() }

// WatchDB exports the pool statistics of db (go_sql_* with db_name=name).
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// WatchKeys exports the signing keys this process holds, read at scrape.
func (m *Metrics) WatchKeys(status func() core.KeyStatus) {
	m.reg.MustRegister(&keysCollector{status: status, now: m.now})
}

// WatchHashSlots exports the hashing slots taken and their number.
func (m *Metrics) WatchHashSlots(slots func() (inUse, size int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "idp_hash_slots_in_use", Help: "Hashing slots taken now."},
			func() float64 { n, _ := slots(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "idp_hash_slots", Help: "Hashing slots (security.max_concurrent_hashes)."},
			func() float64 { _, n := slots(); return float64(n) }),
	)
}

// RedisPool is the statistics of the Redis connection pool.
type RedisPool struct {
	Hits, Misses, Timeouts uint64 // connections reused, dialled, waited for in vain
	Total, Idle            int    // connections open, of them idle
}

// WatchRedisPool exports the Redis pool's statistics, read at scrape.
func (m *Metrics) WatchRedisPool(stats func() RedisPool) {
	m.reg.MustRegister(&redisPoolCollector{stats: stats})
}
