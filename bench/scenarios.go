package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Login answers: 200 and 400 both cost a bcrypt; 429 and 503 are the
// server shedding load.
var (
	hashed   = []int{http.StatusOK, http.StatusBadRequest}
	rejected = []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}
)

// s1 measures logins against the parallel bcrypt rate, each concurrency
// level right after its own baseline run.
func (b *bench) s1() {
	p := b.plan
	ser := series{}
	for rep := range p.runs {
		for _, c := range p.s1Concurrency {
			b.waitQuiet()
			base := bcryptBaseline(b.ctx, b.svc, b.cores, p.s1Base, b.hasher, b.hash, b.sec.password)
			time.Sleep(p.settle)
			client := newClient(c)
			res := b.load("S1", fmt.Sprintf("login c=%d", c), c, p.s1Run, b.loginMix(client, c))
			client.CloseIdleConnections()
			k := strconv.Itoa(c)
			ser.add("bcrypt"+k, base.rate)
			ser.add("bcryptCPU"+k, msOf(base.cpuPer))
			ser.add("rate"+k, res.rate(hashed...))
			ser.add("cpu"+k, msOf(res.cpuPer(hashed...)))
			ser.add("rejected"+k, float64(res.count(rejected...)))
			ser.add("timeouts"+k, float64(res.count(statusTimeout)))
			ser.add("rejectP99"+k, msOf(res.latency(0.99, rejected...)))
			ser.add("p99"+k, msOf(res.latency(0.99, hashed...)))
			b.noise.add("S1", 100*base.unattributed)
			b.noise.add("S1", 100*res.unattributed())
			b.logf("S1 run %d/%d c=%d: %.1f logins/s (bcrypt %.1f/s), %.1f ms CPU/login (bcrypt %.1f ms), codes %v",
				rep+1, p.runs, c, res.rate(hashed...), base.rate, msOf(res.cpuPer(hashed...)), msOf(base.cpuPer), res.codes())
		}
	}
	bname := fmt.Sprintf("bcrypt/s (%d goroutines)", b.cores)
	for _, c := range p.s1Concurrency {
		k := strconv.Itoa(c)
		sc := "S1 login c=" + k
		b.add(withBaseline(figure{Scenario: sc, Name: "login attempts/s (200+400)", Unit: "/s", Target: ratioAtLeast(0.97)},
			bname, ser["rate"+k], ser["bcrypt"+k]))
		b.add(withBaseline(figure{Scenario: sc, Name: "server CPU per login", Unit: "ms", Target: ratioAtMost(1.03)},
			"ms CPU per bcrypt", ser["cpu"+k], ser["bcryptCPU"+k]))
		b.add(figure{Scenario: sc, Name: "login p99 latency (200+400)", Unit: "ms", Value: newStat(ser["p99"+k])})
		if c == p.floodConcurrency {
			b.add(figure{Scenario: sc, Name: "429/503 answers per run", Unit: "", Value: newStat(ser["rejected"+k])})
			b.add(figure{Scenario: sc, Name: "429/503 p99 latency", Unit: "ms", Value: newStat(ser["rejectP99"+k]),
				Target: valueAtMost(msOf(p.overloadRejectSlow)), Note: "quick: within the server's 1 s hashing-queue wait plus slack"})
			b.add(figure{Scenario: sc, Name: "client timeouts (5 s) per run", Unit: "", Value: newStat(ser["timeouts"+k]), Target: valueIs(0)})
		}
	}
	b.addNoise("S1")
}

// s2 measures /me latency at a fixed rate, alone and under S1's login
// flood: bounded hashing must keep the cheap requests moving.
func (b *bench) s2() error {
	p := b.plan
	tokens, err := b.sessions(8)
	if err != nil {
		return err
	}
	ser := series{}
	for rep := range p.runs {
		b.waitQuiet()
		meClient := newClient(16)
		me := b.get(meClient, "/api/v1/auth/me", bearer(tokens))
		quiet := openLoop(b.ctx, b.meter(), p.meRate, p.s2Quiet, me)
		b.keep("S2", "/me alone", quiet)
		time.Sleep(p.settle)

		// The flood starts first and outlasts the /me run by half a second
		// on each side, so every /me request meets a saturated server.
		floodClient := newClient(p.floodConcurrency)
		var flood *loadResult
		done := make(chan struct{})
		go func() {
			flood = closedLoop(b.ctx, b.meter(), p.floodConcurrency, p.s2Flood+time.Second, b.loginMix(floodClient, p.floodConcurrency))
			close(done)
		}()
		time.Sleep(500 * time.Millisecond)
		loud := openLoop(b.ctx, b.meter(), p.meRate, p.s2Flood, me)
		<-done
		b.keep("S2", "/me under flood", loud)
		b.keep("S2", fmt.Sprintf("login flood c=%d", p.floodConcurrency), flood)
		floodClient.CloseIdleConnections()
		meClient.CloseIdleConnections()
		time.Sleep(p.settle)

		all := allCodes(quiet, loud)
		b.noise.add("S2 isolation", 100*quiet.unattributed())
		b.noise.add("S2 isolation", 100*flood.unattributed())
		ser.add("quiet", msOf(quiet.latency(0.99, all...)))
		ser.add("loud", msOf(loud.latency(0.99, all...)))
		ser.add("errors", float64(len(quiet.samples)-quiet.count(http.StatusOK)+len(loud.samples)-loud.count(http.StatusOK)))
		b.logf("S2 run %d/%d: /me p99 %.1f ms alone, %.1f ms under flood (codes %v / %v)",
			rep+1, p.runs, msOf(quiet.latency(0.99, all...)), msOf(loud.latency(0.99, all...)), quiet.codes(), loud.codes())
	}
	b.add(withBaseline(figure{Scenario: "S2 isolation", Name: fmt.Sprintf("/me p99 at %.0f/s under login flood c=%d", p.meRate, p.floodConcurrency), Unit: "ms", Target: ratioAtMost(5)},
		"ms p99 without flood", ser["loud"], ser["quiet"]))
	b.add(figure{Scenario: "S2 isolation", Name: "/me answers other than 200", Unit: "", Value: newStat(ser["errors"]), Target: valueIs(0)})
	b.addNoise("S2 isolation")
	return nil
}

func allCodes(rs ...*loadResult) []int {
	var out []int
	for _, r := range rs {
		for code := range r.codes() {
			if !slices.Contains(out, code) {
				out = append(out, code)
			}
		}
	}
	return out
}

// s3 measures refreshes, each worker following its own token chain,
// against the same rotation run straight through the store.
func (b *bench) s3() error {
	p := b.plan
	maxConc := slices.Max(p.s3Concurrency)
	pairs, err := b.sessions(maxConc)
	if err != nil {
		return err
	}
	chains := make([]string, maxConc)
	for i, tp := range pairs {
		chains[i] = tp.RefreshToken
	}
	raw := make([]*rawChain, maxConc)
	for i := range raw {
		// Other users than the HTTP chains', as in production the two
		// would not share sessions.
		u, err := b.store.UserByEmail(b.ctx, "default", benchEmail(b.users-1-i))
		if err != nil {
			return err
		}
		if raw[i], err = newRawChain(b.ctx, b.store, u); err != nil {
			return err
		}
	}
	replay, err := replayRecord()
	if err != nil {
		return err
	}
	ser := series{}
	for rep := range p.runs {
		for _, c := range p.s3Concurrency {
			b.waitQuiet()
			base := rawRotationBaseline(b.ctx, b.svc, b.store, raw, c, p.s3Base, replay)
			time.Sleep(p.settle)
			client := newClient(c)
			res := b.load("S3", fmt.Sprintf("refresh c=%d", c), c, p.s3Run, b.refresh(client, chains))
			client.CloseIdleConnections()
			k := strconv.Itoa(c)
			b.noise.add("S3 refresh", 100*base.unattributed)
			b.noise.add("S3 refresh", 100*res.unattributed())
			ser.add("raw"+k, base.rate)
			ser.add("rawDB"+k, msOf(base.dbPer))
			ser.add("rawCPU"+k, msOf(base.cpuPer))
			ser.add("rate"+k, res.rate(http.StatusOK))
			ser.add("p99"+k, msOf(res.latency(0.99, http.StatusOK)))
			ser.add("cpu"+k, msOf(res.cpuPer(http.StatusOK)))
			ser.add("db"+k, msOf(res.dbCPUPer(http.StatusOK)))
			ser.add("errors"+k, float64(len(res.samples)-res.count(http.StatusOK))+float64(base.errors))
			b.logf("S3 run %d/%d c=%d: %.0f refreshes/s (raw %.0f/s), %.2f ms CPU/refresh, %.2f ms DB CPU (raw %.2f), codes %v",
				rep+1, p.runs, c, res.rate(http.StatusOK), base.rate, msOf(res.cpuPer(http.StatusOK)), msOf(res.dbCPUPer(http.StatusOK)), msOf(base.dbPer), res.codes())
		}
	}
	for _, c := range p.s3Concurrency {
		k := strconv.Itoa(c)
		sc := "S3 refresh c=" + k
		b.add(withBaseline(figure{Scenario: sc, Name: "refreshes/s", Unit: "/s", Target: ratioAtLeast(0.7)},
			"raw rotation tx/s", ser["rate"+k], ser["raw"+k]))
		b.add(figure{Scenario: sc, Name: "server CPU per refresh", Unit: "ms", Value: newStat(ser["cpu"+k]), Target: valueAtMost(1.5)})
		b.add(figure{Scenario: sc, Name: "refresh p99 latency", Unit: "ms", Value: newStat(ser["p99"+k])})
		// What the driver and store cost the bench per raw rotation: the
		// part of the server's CPU per refresh that isn't HTTP, signing
		// and sealing.
		b.add(figure{Scenario: sc, Name: "bench CPU per raw rotation (driver and store)", Unit: "ms", Value: newStat(ser["rawCPU"+k])})
		b.add(withBaseline(figure{Scenario: sc, Name: "Postgres+Redis CPU per refresh", Unit: "ms"},
			"ms per raw rotation", ser["db"+k], ser["rawDB"+k]))
		b.add(figure{Scenario: sc, Name: "failed refreshes and rotations", Unit: "", Value: newStat(ser["errors"+k]), Target: valueIs(0)})
	}
	b.addNoise("S3 refresh")
	return nil
}

// refresh follows worker w's chain: each answer's refresh token is the
// next request's. A chain that breaks starts again with a login, so one
// failure doesn't stop the worker.
func (b *bench) refresh(c *http.Client, chains []string) request {
	url := b.url("/api/v1/auth/refresh")
	return func(ctx context.Context, w int) (int, error) {
		var tp tokenPair
		st, err := call(ctx, c, http.MethodPost, url, refreshBody(chains[w]), nil, &tp)
		switch {
		case err == nil && st == http.StatusOK:
			chains[w] = tp.RefreshToken
		case err == nil && st == http.StatusBadRequest:
			if tp, lerr := b.login(ctx, c, w); lerr == nil {
				chains[w] = tp.RefreshToken
			}
		}
		return st, err
	}
}

// s4s5 measures /me, JWKS and discovery beside /healthz, the cheapest
// request the server answers, and the in-process token rates.
func (b *bench) s4s5() error {
	p := b.plan
	c := p.readConcurrency
	tokens, err := b.sessions(c)
	if err != nil {
		return err
	}
	sig, err := newSigner()
	if err != nil {
		return err
	}
	ser := series{}
	for rep := range p.runs {
		b.waitQuiet()
		verify := sig.verifyRate(b.ctx, b.svc, b.cores, p.s45Base)
		sign := sig.signRate(b.ctx, b.svc, b.cores, p.s45Base)
		time.Sleep(p.settle)
		client := newClient(c)
		health := b.load("S4/S5", "/healthz", c, p.s45Run, b.get(client, "/healthz", nil))
		me := b.load("S4/S5", "/me", c, p.s45Run, b.get(client, "/api/v1/auth/me", bearer(tokens)))
		jwks := b.load("S4/S5", "/.well-known/jwks.json", c, p.s45Run, b.get(client, "/.well-known/jwks.json", nil))
		disc := b.load("S4/S5", "/.well-known/openid-configuration", c, p.s45Run, b.get(client, "/.well-known/openid-configuration", nil))
		client.CloseIdleConnections()
		ok := http.StatusOK
		ser.add("verify", verify.rate)
		ser.add("sign", sign.rate)
		ser.add("healthz", health.rate(ok))
		ser.add("meBase", min(verify.rate, health.rate(ok)))
		ser.add("me", me.rate(ok))
		ser.add("meP99", msOf(me.latency(0.99, ok)))
		ser.add("meCPU", msOf(me.cpuPer(ok)))
		ser.add("meDB", msOf(me.dbCPUPer(ok)))
		ser.add("healthCPU", msOf(health.cpuPer(ok)))
		ser.add("jwks", jwks.rate(ok))
		ser.add("disc", disc.rate(ok))
		ser.add("jwksCPU", msOf(jwks.cpuPer(ok)))
		ser.add("discCPU", msOf(disc.cpuPer(ok)))
		for _, r := range []*loadResult{health, me, jwks, disc} {
			b.noise.add("S4/S5", 100*r.unattributed())
		}
		b.noise.add("S4/S5", 100*verify.unattributed)
		b.noise.add("S4/S5", 100*sign.unattributed)
		ser.add("errors", float64(len(health.samples)+len(me.samples)+len(jwks.samples)+len(disc.samples)-
			health.count(ok)-me.count(ok)-jwks.count(ok)-disc.count(ok)))
		b.logf("S4/S5 run %d/%d: verify %.0f/s, sign %.0f/s, /healthz %.0f/s, /me %.0f/s, JWKS %.0f/s, discovery %.0f/s",
			rep+1, p.runs, verify.rate, sign.rate, health.rate(ok), me.rate(ok), jwks.rate(ok), disc.rate(ok))
	}
	cs := fmt.Sprintf(" c=%d", c)
	b.add(figure{Scenario: "baseline", Name: fmt.Sprintf("Ed25519 sign/s (%d goroutines)", b.cores), Unit: "/s", Value: newStat(ser["sign"])})
	b.add(figure{Scenario: "baseline", Name: fmt.Sprintf("Ed25519 verify/s (%d goroutines)", b.cores), Unit: "/s", Value: newStat(ser["verify"])})
	b.add(figure{Scenario: "baseline", Name: "/healthz req/s" + cs, Unit: "/s", Value: newStat(ser["healthz"])})
	b.add(figure{Scenario: "baseline", Name: "server CPU per /healthz", Unit: "ms", Value: newStat(ser["healthCPU"])})
	b.add(withBaseline(figure{Scenario: "S4 /me" + cs, Name: "/me req/s", Unit: "/s", Target: ratioAtLeast(0.6)},
		"min(verify/s, /healthz/s)", ser["me"], ser["meBase"]))
	b.add(figure{Scenario: "S4 /me" + cs, Name: "server CPU per /me", Unit: "ms", Value: newStat(ser["meCPU"])})
	b.add(figure{Scenario: "S4 /me" + cs, Name: "/me p99 latency", Unit: "ms", Value: newStat(ser["meP99"])})
	b.add(figure{Scenario: "S4 /me" + cs, Name: "Postgres+Redis CPU per /me", Unit: "ms", Value: newStat(ser["meDB"])})
	b.add(withBaseline(figure{Scenario: "S5 JWKS" + cs, Name: "JWKS req/s", Unit: "/s", Target: ratioAtLeast(0.9)},
		"/healthz/s", ser["jwks"], ser["healthz"]))
	b.add(withBaseline(figure{Scenario: "S5 discovery" + cs, Name: "discovery req/s", Unit: "/s", Target: ratioAtLeast(0.9)},
		"/healthz/s", ser["disc"], ser["healthz"]))
	// Server CPU per request is the noise-proof view of the same
	// comparison: a neighbour slows both sides of a rate, not the CPU.
	b.add(withBaseline(figure{Scenario: "S5 JWKS" + cs, Name: "server CPU per JWKS request", Unit: "ms"},
		"ms per /healthz", ser["jwksCPU"], ser["healthCPU"]))
	b.add(withBaseline(figure{Scenario: "S5 discovery" + cs, Name: "server CPU per discovery request", Unit: "ms"},
		"ms per /healthz", ser["discCPU"], ser["healthCPU"]))
	b.add(figure{Scenario: "S4/S5", Name: "answers other than 200", Unit: "", Value: newStat(ser["errors"]), Target: valueIs(0)})
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration"} {
		ok := b.conditionalGet(path)
		b.add(figure{Scenario: "S5", Name: "If-None-Match on " + path + " answered 304", Unit: "yes/no", Value: newStat([]float64{boolNum(ok)}), Target: valueIs(1)})
	}
	b.addNoise("S4/S5")
	return nil
}

// conditionalGet fetches path, then asks again with its ETag and reports
// whether the answer was 304 with no body.
func (b *bench) conditionalGet(path string) bool {
	c := newClient(1)
	defer c.CloseIdleConnections()
	resp, err := c.Get(b.url(path))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" {
		return false
	}
	req, _ := http.NewRequestWithContext(b.ctx, http.MethodGet, b.url(path), nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = c.Do(req)
	if err != nil {
		return false
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusNotModified && n == 0
}

func boolNum(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
