package main

// The soak (`make soak`, docs/capacity.md "Soak"): one `idp serve` with
// short lifetimes and a busy janitor under a mixed load for SOAK: logins
// at the hashing capacity, refresh chains, /me, JWKS, sign-in page views
// and OpenID Connect code flows. Every few seconds it probes the server's
// RSS and goroutines (from its own /metrics) and the sizes of the tables
// the janitor prunes; at the end it judges the run (soakcheck.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// soakLifetimes are short, so sessions, tokens, browser sessions and codes
// expire, and the janitor deletes them, many times during a run.
const (
	soakRefreshTTL = 2 * time.Minute
	soakRetention  = time.Minute
	soakJanitor    = 15 * time.Second
)

func soakEnv(metricsAddr string) map[string]string {
	return map[string]string{
		"IDP_METRICS_ADDR":            metricsAddr,
		"IDP_TOKENS_ACCESS_TTL":       "1m",
		"IDP_TOKENS_REFRESH_TTL":      soakRefreshTTL.String(),
		"IDP_TOKENS_REFRESH_IDLE_TTL": "1m",
		"IDP_BROWSER_SESSION_TTL":     soakRefreshTTL.String(),
		"IDP_BROWSER_IDLE_TTL":        "1m",
		"IDP_RETENTION_SESSIONS":      soakRetention.String(),
		"IDP_MAINTENANCE_INTERVAL":    soakJanitor.String(),
	}
}

// soakTables are counted at every probe: what the janitor prunes, and the
// authorization codes of the code flows.
var soakTables = []string{"sessions", "refresh_tokens", "browser_sessions", "oauth_codes", "login_source_locks"}

// soakRun is one soak in progress.
type soakRun struct {
	b        *bench
	start    time.Time
	deadline time.Time
	metrics  string // the server's /metrics URL
	client   string // the code flows' client_id
	mu       sync.Mutex
	ops      map[string][]sample
	// chains hold each refresh chain's latest access token for /me.
	chains []atomic.Pointer[string]
	// failures keeps the first unexpected answers, for the report.
	failures []string
}

// record keeps one finished request of op.
func (r *soakRun) record(op string, status int, err error, t0 time.Time) {
	s := sample{status: classify(status, err), lat: time.Since(t0), end: time.Since(r.start)}
	r.mu.Lock()
	r.ops[op] = append(r.ops[op], s)
	r.mu.Unlock()
}

func (r *soakRun) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf("%6.1fs ", time.Since(r.start).Seconds())+fmt.Sprintf(format, args...))
	}
}

// paced calls do every interval until the deadline; a slow answer delays
// the next call but never brings a burst after it.
func (r *soakRun) paced(ctx context.Context, interval time.Duration, do func()) {
	next := time.Now()
	for ctx.Err() == nil && time.Now().Before(r.deadline) {
		do()
		next = next.Add(interval)
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		} else {
			next = time.Now()
		}
	}
}

// runSoak runs the soak for d and prints and writes its report.
func (b *bench) runSoak(db *sqlx.DB, d time.Duration, cost int, logPath string, stdout io.Writer, out string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(port)
	srv, err := startServer(b.ctx, b.env, soakEnv(metricsAddr), logPath)
	if err != nil {
		return err
	}
	defer srv.stop()
	b.srv = srv
	clientID, err := b.soakClient()
	if err != nil {
		return err
	}
	slots := runtime.NumCPU() // security.max_concurrent_hashes' default
	b.logf("soak for %s: %d login workers (the hashing slots), 8 refresh chains, /me, JWKS, sign-in pages and code flows; janitor every %s",
		d, slots, soakJanitor)
	started := time.Now()
	r := &soakRun{b: b, start: started, deadline: started.Add(d), metrics: "http://" + metricsAddr + "/metrics",
		client: clientID, ops: map[string][]sample{}, chains: make([]atomic.Pointer[string], 8)}
	var probes []probe
	var wg sync.WaitGroup
	wg.Go(func() { probes = r.probeLoop(db, srv) })
	r.startLoad(&wg, slots)
	wg.Wait()
	if err := b.ctx.Err(); err != nil {
		return err
	}
	data := soakData{duration: d, ops: r.ops, probes: probes, steady: soakRefreshTTL + soakRetention + 2*soakJanitor}
	return r.report(stdout, out, data, cost, slots, srv)
}

// soakClient registers the public, first-party client the code flows use.
func (b *bench) soakClient() (string, error) {
	raw, err := b.env.run(b.ctx, "", "clients", "create", "--name", "soak", "--redirect-uri", soakRedirect,
		"--public", "--first-party", "--output", "json")
	if err != nil {
		return "", err
	}
	var c struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.ClientID == "" {
		return "", fmt.Errorf("idp clients create: no client_id in %q", raw)
	}
	return c.ClientID, nil
}

// startLoad starts every operation's workers on wg.
func (r *soakRun) startLoad(wg *sync.WaitGroup, slots int) {
	ctx := r.b.ctx
	api := newClient(32)
	for w := range slots {
		rng := rand.New(rand.NewPCG(uint64(w), 13))
		wg.Go(func() { r.paced(ctx, 0, func() { r.login(ctx, api, rng) }) })
	}
	for w := range r.chains {
		wg.Go(func() { r.chain(ctx, api, w) })
	}
	for w := range 4 {
		wg.Go(func() { r.paced(ctx, 50*time.Millisecond, func() { r.me(ctx, api, w) }) })
	}
	wg.Go(func() {
		r.paced(ctx, 20*time.Millisecond, func() { r.get(ctx, api, "JWKS", "/.well-known/jwks.json") })
	})
	wg.Go(func() { r.paced(ctx, 200*time.Millisecond, func() { r.get(ctx, api, "sign-in page", "/login") }) })
	wg.Go(func() { r.paced(ctx, 2*time.Second, func() { r.codeFlow(ctx) }) })
}

// login is the API's password grant: bench users at random, 15 % of them
// with a wrong password or an unknown email (each costs a bcrypt all the
// same).
func (r *soakRun) login(ctx context.Context, c *http.Client, rng *rand.Rand) {
	b := r.b
	email, pw := benchEmail(rng.IntN(b.users)), b.sec.password
	switch p := rng.Float64(); {
	case p < 0.075:
		pw = "wrong-" + pw
	case p < 0.15:
		email = "nobody-" + strconv.FormatUint(rng.Uint64(), 36) + "@bench.example"
	}
	t0 := time.Now()
	st, err := call(ctx, c, http.MethodPost, b.url("/api/v1/auth/token"), loginBody(email, pw), nil, nil)
	r.record("login", st, err, t0)
	if err == nil && st != http.StatusOK && st != http.StatusBadRequest {
		r.fail("login: %d", st)
	}
}

// chain follows one refresh chain at 15 refreshes/s; when its session
// ends (refresh_ttl) it logs in again and goes on with the new one.
func (r *soakRun) chain(ctx context.Context, c *http.Client, w int) {
	b := r.b
	var refresh string
	r.paced(ctx, time.Second/15, func() {
		if refresh == "" {
			var tp tokenPair
			t0 := time.Now()
			st, err := call(ctx, c, http.MethodPost, b.url("/api/v1/auth/token"), loginBody(benchEmail(b.users-1-w), b.sec.password), nil, &tp)
			r.record("login", st, err, t0)
			if err != nil || st != http.StatusOK {
				r.fail("chain %d login: %d %v", w, st, err)
				return
			}
			refresh = tp.RefreshToken
			r.chains[w].Store(&tp.AccessToken)
			return
		}
		var tp tokenPair
		t0 := time.Now()
		st, err := call(ctx, c, http.MethodPost, b.url("/api/v1/auth/refresh"), refreshBody(refresh), nil, &tp)
		r.record("refresh", st, err, t0)
		switch {
		case err == nil && st == http.StatusOK:
			refresh = tp.RefreshToken
			r.chains[w].Store(&tp.AccessToken)
		case err == nil && st == http.StatusBadRequest:
			refresh = "" // the session reached refresh_ttl: start a new one
		default:
			r.fail("refresh: %d %v", st, err)
		}
	})
}

// me calls /me with a chain's latest access token.
func (r *soakRun) me(ctx context.Context, c *http.Client, w int) {
	tok := r.chains[w%len(r.chains)].Load()
	if tok == nil {
		return
	}
	t0 := time.Now()
	st, err := call(ctx, c, http.MethodGet, r.b.url("/api/v1/auth/me"), nil, map[string]string{"Authorization": "Bearer " + *tok}, nil)
	r.record("/me", st, err, t0)
	// A token whose session just reached its end is refused: the chain
	// has a new one a refresh later.
	if err != nil || (st != http.StatusOK && st != http.StatusUnauthorized) {
		r.fail("/me: %d %v", st, err)
	}
}

func (r *soakRun) get(ctx context.Context, c *http.Client, op, path string) {
	t0 := time.Now()
	st, err := call(ctx, c, http.MethodGet, r.b.url(path), nil, nil, nil)
	r.record(op, st, err, t0)
	if err != nil || st != http.StatusOK {
		r.fail("%s: %d %v", op, st, err)
	}
}

// probeLoop looks at the server and the tables every 5 s until the end.
func (r *soakRun) probeLoop(db *sqlx.DB, srv *server) []probe {
	var out []probe
	c := newClient(1)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		p := probe{at: time.Since(r.start), rss: srv.memory().RSS, tables: map[string]int64{}}
		p.goroutines = scrapeValue(r.b.ctx, c, r.metrics, "go_goroutines")
		for _, t := range soakTables {
			var n int64
			if err := db.GetContext(r.b.ctx, &n, "SELECT count(*) FROM "+t); err == nil {
				p.tables[t] = n
			}
		}
		out = append(out, p)
		select {
		case <-r.b.ctx.Done():
			return out
		case <-tick.C:
		}
		if time.Now().After(r.deadline) {
			return out
		}
	}
}

// scrapeValue reads one unlabelled sample from a /metrics page; -1 when
// it is missing.
func scrapeValue(ctx context.Context, c *http.Client, url, name string) float64 {
	samples := scrape(ctx, c, url)
	if v, ok := samples[name]; ok {
		return v
	}
	return -1
}

// scrape reads a /metrics page into its samples by series.
func scrape(ctx context.Context, c *http.Client, url string) map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out
	}
	resp, err := c.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// soakResult is what bench/out/soak.json holds.
type soakResult struct {
	Date       string           `json:"date"`
	CPU        string           `json:"cpu"`
	Cores      int              `json:"cores"`
	Seconds    float64          `json:"seconds"`
	LoadAvg    string           `json:"load_average_end"`
	Criteria   []criterion      `json:"criteria"`
	Operations []soakOperation  `json:"operations"`
	Metrics    map[string]int64 `json:"server_metrics"`
	Failures   []string         `json:"first_unexpected_answers"`
	Probes     []probeJSON      `json:"probes"`
}

// probeJSON is a probe as soak.json writes it.
type probeJSON struct {
	Seconds    float64          `json:"at_seconds"`
	RSSMB      float64          `json:"rss_mb"`
	Goroutines float64          `json:"goroutines"`
	Tables     map[string]int64 `json:"tables"`
}

type soakOperation struct {
	Name     string      `json:"operation"`
	Requests int         `json:"requests"`
	PerSec   float64     `json:"per_second"`
	Codes    map[int]int `json:"codes"`
	P50MS    float64     `json:"p50_ms"`
	P99MS    float64     `json:"p99_ms"`
}

// report prints the criteria and the operations and writes soak.json and
// soak.md into out.
func (r *soakRun) report(stdout io.Writer, out string, d soakData, cost, slots int, srv *server) error {
	cs := evaluate(d)
	res := soakResult{Date: r.start.UTC().Format(time.RFC3339), CPU: cpuModel(), Cores: runtime.NumCPU(),
		Seconds: d.duration.Seconds(), LoadAvg: loadAverage(), Criteria: cs, Failures: r.failures,
		Metrics: serverCounters(scrape(r.b.ctx, newClient(1), r.metrics))}
	for _, p := range d.probes {
		res.Probes = append(res.Probes, probeJSON{Seconds: p.at.Seconds(), RSSMB: mb(p.rss), Goroutines: p.goroutines, Tables: p.tables})
	}
	var names []string
	for name := range d.ops {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		samples := d.ops[name]
		res.Operations = append(res.Operations, soakOperation{Name: name, Requests: len(samples),
			PerSec: float64(len(samples)) / d.duration.Seconds(), Codes: (&loadResult{samples: samples}).codes(),
			P50MS: msOf((&loadResult{samples: samples}).latency(0.5, codesOf(samples)...)),
			P99MS: msOf((&loadResult{samples: samples}).latency(0.99, codesOf(samples)...))})
	}
	var md strings.Builder
	fmt.Fprintf(&md, "idp soak, %s, %s (%d cores), %s, bcrypt cost %d, %d login workers; load average %s at the end\n\n",
		res.Date, res.CPU, res.Cores, d.duration, cost, slots, res.LoadAvg)
	md.WriteString(criteriaMarkdown(cs))
	md.WriteString("\n| operation | requests | per second | answers | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n")
	for _, op := range res.Operations {
		fmt.Fprintf(&md, "| %s | %d | %.1f | %s | %.1f | %.1f |\n", op.Name, op.Requests, op.PerSec, codesText(op.Codes), op.P50MS, op.P99MS)
	}
	fmt.Fprintf(stdout, "\n%s\n", md.String())
	if len(r.failures) > 0 {
		fmt.Fprintf(stdout, "first unexpected answers:\n  %s\n", strings.Join(r.failures, "\n  "))
	}
	verdict := "PASSED"
	if !allPassed(cs) {
		verdict = "FAILED"
	}
	fmt.Fprintf(stdout, "\nsoak %s; peak RSS %.1f MB; figures in %s\n", verdict, mb(srv.memory().HWM), filepath.Join(out, "soak.json"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "soak.json"), js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "soak.md"), []byte(md.String()), 0o644)
}

// codesText writes answers by status as "200: 5781, 400: 100".
func codesText(codes map[int]int) string {
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d: %d", k, codes[k])
	}
	return strings.Join(parts, ", ")
}

func codesOf(samples []sample) []int {
	var out []int
	for _, s := range samples {
		if !slices.Contains(out, s.status) {
			out = append(out, s.status)
		}
	}
	return out
}

// serverCounters keeps the idp_ counters of a scrape, for the report: what
// the server says it did, beside what the load generator counted.
func serverCounters(samples map[string]float64) map[string]int64 {
	out := map[string]int64{}
	for series, v := range samples {
		if strings.HasPrefix(series, "idp_") && strings.Contains(series, "_total") {
			out[series] = int64(v)
		}
	}
	return out
}
