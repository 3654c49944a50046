package main

// The bench's state and the helpers every scenario uses: the run plan,
// figures, logins and request builders.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
)

// plan is how long each part runs; -quick shortens everything.
type plan struct {
	runs                 int
	s1Base, s1Run        time.Duration
	s2Quiet, s2Flood     time.Duration
	s3Base, s3Run        time.Duration
	s45Base, s45Run      time.Duration
	s6Base, s6Run        time.Duration
	oraclePerClass       int
	resetPerClass        int
	startups             int
	settle               time.Duration // pause after each run, so the next starts idle
	quietWait            time.Duration // longest wait for neighbours to go quiet before a pair
	meRate               float64       // /me requests per second in S2
	s1Concurrency        []int
	s3Concurrency        []int
	readConcurrency      int // S4, S5 and /healthz
	pageLoginConcurrency int // S7's browsers signing in on the hosted page
	codeflowConcurrency  int // S6: signed-in browsers, one per worker
	floodConcurrency     int // S1's overload level, used by S2
	loginFailShare       float64
	overloadRejectSlow   time.Duration // "quick" 429/503: the server's 1 s hashing queue wait plus slack
}

// S1 at cost 10 does about 16 logins/s per core here, so its runs are the
// longest: a 2-core run of 8 s counts some 250 logins.
var fullPlan = plan{
	runs: 3, s1Base: 4 * time.Second, s1Run: 8 * time.Second,
	s2Quiet: 6 * time.Second, s2Flood: 8 * time.Second,
	s3Base: 4 * time.Second, s3Run: 5 * time.Second,
	s45Base: time.Second, s45Run: 4 * time.Second,
	s6Base: 3 * time.Second, s6Run: 4 * time.Second,
	oraclePerClass: 500, resetPerClass: 300, startups: 3, quietWait: 5 * time.Second,
}

var quickPlan = plan{
	runs: 1, s1Base: 1500 * time.Millisecond, s1Run: 2 * time.Second,
	s2Quiet: 2 * time.Second, s2Flood: 3 * time.Second,
	s3Base: 1500 * time.Millisecond, s3Run: 2 * time.Second,
	s45Base: 500 * time.Millisecond, s45Run: 1500 * time.Millisecond,
	s6Base: time.Second, s6Run: 1500 * time.Millisecond,
	oraclePerClass: 100, resetPerClass: 100, startups: 1, quietWait: 2 * time.Second,
}

func (p plan) withDefaults() plan {
	p.settle = 300 * time.Millisecond
	p.meRate = 50
	p.s1Concurrency = []int{2, 8, 64}
	p.s3Concurrency = []int{4, 8, 16}
	p.readConcurrency = 16
	p.codeflowConcurrency = 8
	p.pageLoginConcurrency = 8
	p.floodConcurrency = 64
	p.loginFailShare = 0.15
	p.overloadRejectSlow = 1500 * time.Millisecond
	return p
}

// bench is one run: its services, the server under test and the figures.
type bench struct {
	ctx    context.Context
	plan   plan
	log    io.Writer
	env    idpEnv
	svc    *services
	srv    *server
	store  *postgres.Store
	sec    secrets
	hasher *password.Hasher // at the benchmarked cost, same pepper as the server
	hash   string           // the bench users' password hash
	users  int
	cores  int
	figs   []figure
	runs   map[string][]runDetail
	noise  series // unattributed CPU share of each run, by scenario group
	// selected says whether a scenario (s1, s2, s3, s4, oracle, reset) runs.
	selected func(name string) bool
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) meter() meter { return meter{srv: b.srv, svc: b.svc} }

// load runs one closed-loop run and keeps its details.
func (b *bench) load(scenario, name string, conc int, d time.Duration, do request) *loadResult {
	res := closedLoop(b.ctx, b.meter(), conc, d, do)
	b.keep(scenario, name, res)
	time.Sleep(b.plan.settle)
	return res
}

// waitQuiet waits, at most plan.quietWait, until the machine is nearly
// idle before a baseline and its scenario: on a shared machine a
// neighbour's test suite would otherwise land on one side of a ratio.
func (b *bench) waitQuiet() {
	const probe = 250 * time.Millisecond
	start := time.Now()
	for {
		m0 := machineCPU()
		time.Sleep(probe)
		busy := share(machineCPU()-m0, probe)
		if busy < 0.15 || time.Since(start) >= b.plan.quietWait || b.ctx.Err() != nil {
			if waited := time.Since(start); waited > time.Second {
				b.logf("waited %v for the machine to go quiet (%.0f%% busy now)", waited.Round(100*time.Millisecond), 100*busy)
			}
			return
		}
	}
}

// addNoise adds the row that says how much a group's runs competed with
// other processes.
func (b *bench) addNoise(group string) {
	b.add(figure{Scenario: group, Name: "unattributed CPU during the runs (neighbours, kernel)", Unit: "% of cores",
		Value: newStat(b.noise[group]), Note: "CPU not charged to idp, PostgreSQL, Redis or the bench; high values mean a noisy run"})
}

func (b *bench) keep(scenario, name string, res *loadResult) {
	all := make([]int, 0)
	for code := range res.codes() {
		all = append(all, code)
	}
	b.runs[scenario] = append(b.runs[scenario], runDetail{
		Name: name, Seconds: res.window.Seconds(), Codes: res.codes(),
		P50MS: msOf(res.latency(0.5, all...)), P99MS: msOf(res.latency(0.99, all...)),
		CPUms: msOf(res.cpu), DBCPUms: msOf(res.dbCPU), ClientCPU: msOf(res.clientCPU), AllCPUms: msOf(res.machineCPU),
		UnattributedPct: 100 * res.unattributed(),
		ElapsedS:        res.elapsed.Seconds(), Requested: len(res.samples),
	})
}

func (b *bench) add(f figure) {
	f.judge()
	b.figs = append(b.figs, f)
}

func statPtr(s stat) *stat { return &s }

// withBaseline fills a figure's baseline and the paired ratios.
func withBaseline(f figure, name string, value, base []float64) figure {
	f.Value = newStat(value)
	f.BaselineName = name
	f.Baseline = statPtr(newStat(base))
	f.Ratio = statPtr(newStat(ratios(value, base)))
	return f
}

func (b *bench) url(path string) string { return b.srv.base + path }

// login logs user i in and returns its tokens.
func (b *bench) login(ctx context.Context, c *http.Client, i int) (tokenPair, error) {
	var tp tokenPair
	st, err := call(ctx, c, http.MethodPost, b.url("/api/v1/auth/token"), loginBody(benchEmail(i), b.sec.password), nil, &tp)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("login of %s: status %d", benchEmail(i), st)
	}
	return tp, err
}

// sessions logs n users in, one session each.
func (b *bench) sessions(n int) ([]tokenPair, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	out := make([]tokenPair, n)
	for i := range n {
		tp, err := b.login(b.ctx, c, i)
		if err != nil {
			return nil, err
		}
		out[i] = tp
	}
	return out, nil
}

// loginMix is S1's traffic: real users at random, with a share of wrong
// passwords and unknown emails, half each. Every one of them costs the
// server one bcrypt, so all count as login attempts.
func (b *bench) loginMix(c *http.Client, conc int) request {
	rngs := make([]*rand.Rand, conc)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 42))
	}
	url := b.url("/api/v1/auth/token")
	return func(ctx context.Context, w int) (int, error) {
		r := rngs[w%len(rngs)]
		email, pw := benchEmail(r.IntN(b.users)), b.sec.password
		switch p := r.Float64(); {
		case p < b.plan.loginFailShare/2:
			pw = "wrong-" + pw
		case p < b.plan.loginFailShare:
			email = "nobody-" + strconv.FormatUint(r.Uint64(), 36) + "@bench.example"
		}
		return call(ctx, c, http.MethodPost, url, loginBody(email, pw), nil, nil)
	}
}

func (b *bench) get(c *http.Client, path string, header func(w int) map[string]string) request {
	url := b.url(path)
	return func(ctx context.Context, w int) (int, error) {
		var h map[string]string
		if header != nil {
			h = header(w)
		}
		return call(ctx, c, http.MethodGet, url, nil, h, nil)
	}
}

func bearer(tokens []tokenPair) func(w int) map[string]string {
	return func(w int) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tokens[w%len(tokens)].AccessToken}
	}
}
