package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sign-in page answers: 303 (signed in) and 400 (wrong credentials, the
// page again) both cost a bcrypt.
var signInHashed = []int{http.StatusSeeOther, http.StatusBadRequest}

// s7 measures the hosted sign-in page: GET /login against /healthz, and a
// browser's whole sign-in (GET the page, POST the form) against one bcrypt,
// as S1 measures the API login (docs/capacity.md, "Hosted sign-in page").
func (b *bench) s7() error {
	p := b.plan
	c := p.readConcurrency
	lc := p.pageLoginConcurrency
	ser := series{}
	for rep := range p.runs {
		b.waitQuiet()
		client := newClient(c)
		health := b.load("S7", "/healthz", c, p.s45Run, b.get(client, "/healthz", nil))
		page := b.load("S7", "GET /login", c, p.s45Run, b.get(client, "/login", nil))
		client.CloseIdleConnections()
		ok := http.StatusOK
		ser.add("healthz", health.rate(ok))
		ser.add("page", page.rate(ok))
		ser.add("healthCPU", msOf(health.cpuPer(ok)))
		ser.add("pageCPU", msOf(page.cpuPer(ok)))
		ser.add("pageP99", msOf(page.latency(0.99, ok)))
		ser.add("pageErrors", float64(len(page.samples)-page.count(ok)))

		base := bcryptBaseline(b.ctx, b.svc, b.cores, p.s1Base, b.hasher, b.hash, b.sec.password)
		time.Sleep(p.settle)
		lclient := noRedirects(lc)
		login := b.load("S7", fmt.Sprintf("sign-in form c=%d", lc), lc, p.s1Run, b.signInMix(lclient, lc))
		lclient.CloseIdleConnections()
		ser.add("bcrypt", base.rate)
		ser.add("bcryptCPU", msOf(base.cpuPer))
		ser.add("login", login.rate(signInHashed...))
		ser.add("loginCPU", msOf(login.cpuPer(signInHashed...)))
		ser.add("loginP99", msOf(login.latency(0.99, signInHashed...)))
		ser.add("loginOther", float64(len(login.samples)-login.count(signInHashed...)))
		for _, r := range []*loadResult{health, page, login} {
			b.noise.add("S7", 100*r.unattributed())
		}
		b.noise.add("S7", 100*base.unattributed)
		b.logf("S7 run %d/%d: /healthz %.0f/s, GET /login %.0f/s; sign-ins %.1f/s at %.1f ms CPU (bcrypt %.1f ms), codes %v",
			rep+1, p.runs, health.rate(ok), page.rate(ok), login.rate(signInHashed...), msOf(login.cpuPer(signInHashed...)),
			msOf(base.cpuPer), login.codes())
	}
	sc := fmt.Sprintf("S7 sign-in page c=%d", c)
	b.add(withBaseline(figure{Scenario: sc, Name: "GET /login req/s", Unit: "/s"},
		"/healthz/s", ser["page"], ser["healthz"]))
	b.add(withBaseline(figure{Scenario: sc, Name: "server CPU per GET /login", Unit: "ms"},
		"ms per /healthz", ser["pageCPU"], ser["healthCPU"]))
	b.add(figure{Scenario: sc, Name: "GET /login p99 latency", Unit: "ms", Value: newStat(ser["pageP99"])})
	b.add(figure{Scenario: sc, Name: "GET /login answers other than 200", Unit: "", Value: newStat(ser["pageErrors"]), Target: valueIs(0)})
	lsc := fmt.Sprintf("S7 sign-in form c=%d", lc)
	b.add(withBaseline(figure{Scenario: lsc, Name: "sign-ins/s (303+400)", Unit: "/s"},
		fmt.Sprintf("bcrypt/s (%d goroutines)", b.cores), ser["login"], ser["bcrypt"]))
	b.add(withBaseline(figure{Scenario: lsc, Name: "server CPU per sign-in (GET page + POST form)", Unit: "ms", Target: ratioAtMost(1.05)},
		"ms CPU per bcrypt", ser["loginCPU"], ser["bcryptCPU"]))
	b.add(figure{Scenario: lsc, Name: "sign-in p99 latency (303+400)", Unit: "ms", Value: newStat(ser["loginP99"])})
	b.add(figure{Scenario: lsc, Name: "answers other than 303/400", Unit: "", Value: newStat(ser["loginOther"]), Target: valueIs(0)})
	b.addNoise("S7")
	return nil
}

// signInMix is a browser signing in on the hosted page: GET /login for
// its cookies and form fields, then POST the form, with S1's share of
// wrong passwords and unknown emails. Each worker keeps its browser's
// device cookie, as a person's browser does.
func (b *bench) signInMix(c *http.Client, conc int) request {
	rngs := make([]*rand.Rand, conc)
	jars := make([]map[string]string, conc)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 7))
		jars[i] = map[string]string{}
	}
	return func(ctx context.Context, w int) (int, error) {
		r, jar := rngs[w%conc], jars[w%conc]
		delete(jar, "__Host-idp_session")
		email, pw := benchEmail(r.IntN(b.users)), b.sec.password
		switch p := r.Float64(); {
		case p < b.plan.loginFailShare/2:
			pw = "wrong-" + pw
		case p < b.plan.loginFailShare:
			email = "nobody-" + strconv.FormatUint(r.Uint64(), 36) + "@bench.example"
		}
		form, err := b.signInForm(ctx, c, jar)
		if err != nil {
			return statusError, err
		}
		form.Set("email", email)
		form.Set("password", pw)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url("/login"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.srv.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Cookie", cookieHeader(jar))
		resp, err := c.Do(req)
		if err != nil {
			return statusError, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			jar[ck.Name] = ck.Value
		}
		return resp.StatusCode, nil
	}
}

// signInForm opens the sign-in page with jar's cookies, keeps the cookies
// it sets and returns its hidden fields.
func (b *bench) signInForm(ctx context.Context, c *http.Client, jar map[string]string) (url.Values, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url("/login"), nil)
	if len(jar) > 0 {
		req.Header.Set("Cookie", cookieHeader(jar))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /login: status %d", resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		jar[ck.Name] = ck.Value
	}
	form := url.Values{}
	for _, in := range hiddenInputRE.FindAllString(string(body), -1) {
		n, v := inputNameRE.FindStringSubmatch(in), inputValueRE.FindStringSubmatch(in)
		if n != nil && v != nil {
			form.Set(n[1], html.UnescapeString(v[1]))
		}
	}
	return form, nil
}
