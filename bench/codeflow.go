package main

// S6: the OpenID Connect code flow of a signed-in browser (issue 11):
// GET /oauth2/authorize with the session cookie -> 302 with a code ->
// POST /oauth2/token, per second and in server CPU per flow (target under
// 2 ms, no bcrypt on the way). Beside it, the token exchange alone against
// the statements it runs, straight through the store.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/token"
)

const codeflowRedirect = "https://bench.example/callback"

// oauthClient is the bench's registered client.
type oauthClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// registerClient registers a confidential first-party client with the
// CLI, as docs/integrate.md tells an operator to.
func (b *bench) registerClient() (oauthClient, error) {
	out, err := b.env.run(b.ctx, "", "clients", "create", "--name", "bench", "--redirect-uri", codeflowRedirect,
		"--first-party", "--output", "json")
	if err != nil {
		return oauthClient{}, err
	}
	var c oauthClient
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ID == "" || c.Secret == "" {
		return oauthClient{}, fmt.Errorf("idp clients create: unexpected output %q", out)
	}
	return c, nil
}

// noRedirects is a client that hands redirects back instead of following.
func noRedirects(conc int) *http.Client {
	c := newClient(conc)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var (
	hiddenInputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`)
	inputNameRE   = regexp.MustCompile(`\bname="([^"]*)"`)
	inputValueRE  = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// browserSignIn signs user i in on the hosted page (one bcrypt) and
// returns the Cookie header of its browser.
func (b *bench) browserSignIn(ctx context.Context, c *http.Client, i int) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url("/login"), nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	jar := map[string]string{}
	for _, ck := range resp.Cookies() {
		jar[ck.Name] = ck.Value
	}
	form := url.Values{"email": {benchEmail(i)}, "password": {b.sec.password}}
	for _, in := range hiddenInputRE.FindAllString(string(body), -1) {
		n, v := inputNameRE.FindStringSubmatch(in), inputValueRE.FindStringSubmatch(in)
		if n != nil && v != nil {
			form.Set(n[1], html.UnescapeString(v[1]))
		}
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, b.url("/login"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", cookieHeader(jar))
	resp, err = c.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		jar[ck.Name] = ck.Value
	}
	if resp.StatusCode != http.StatusSeeOther || jar["__Host-idp_session"] == "" {
		return "", fmt.Errorf("browser sign-in of %s: status %d", benchEmail(i), resp.StatusCode)
	}
	return cookieHeader(jar), nil
}

func cookieHeader(jar map[string]string) string {
	parts := make([]string, 0, len(jar))
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

// codeflow is S6's state: the client and one signed-in browser per
// worker.
type codeflow struct {
	b       *bench
	client  oauthClient
	cookies []string
	http    *http.Client
	// The PKCE pair every request uses: the server's work is the same for
	// any verifier.
	verifier, challenge string
}

func newCodeflow(b *bench, conc int) (*codeflow, error) {
	c, err := b.registerClient()
	if err != nil {
		return nil, err
	}
	f := &codeflow{b: b, client: c, http: noRedirects(conc), cookies: make([]string, conc)}
	f.verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(f.verifier))
	f.challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	for i := range conc {
		if f.cookies[i], err = b.browserSignIn(b.ctx, f.http, i); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// authorize asks for a code for worker w's browser: no page, a 302 to the
// client (SSO).
func (f *codeflow) authorize(ctx context.Context, w int) (string, int, error) {
	q := url.Values{"response_type": {"code"}, "client_id": {f.client.ID}, "redirect_uri": {codeflowRedirect},
		"scope": {"openid email profile"}, "state": {"s" + strconv.Itoa(w)}, "nonce": {"n"},
		"code_challenge": {f.challenge}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.b.url("/oauth2/authorize?"+q.Encode()), nil)
	req.Header.Set("Cookie", f.cookies[w])
	resp, err := f.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", statusError, fmt.Errorf("authorize: redirect %q without a code", resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), resp.StatusCode, nil
}

// exchange redeems a code at the token endpoint with client_secret_basic.
func (f *codeflow) exchange(ctx context.Context, code string) (int, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {codeflowRedirect},
		"code_verifier": {f.verifier}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.b.url("/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(f.client.ID), url.QueryEscape(f.client.Secret))
	resp, err := f.http.Do(req)
	if err != nil {
		return 0, err
	}
	var tk struct {
		IDToken string `json:"id_token"`
	}
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&tk)
		if err == nil && tk.IDToken == "" {
			err = errors.New("token response without id_token")
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// flow is one whole code flow.
func (f *codeflow) flow(ctx context.Context, w int) (int, error) {
	code, st, err := f.authorize(ctx, w)
	if err != nil || code == "" {
		return st, err
	}
	return f.exchange(ctx, code)
}

// errDry is a worker that ran out of prepared codes.
var errDry = errors.New("no prepared code left")

// codePool holds codes prepared per worker for the exchange-only runs.
type codePool struct {
	mu    sync.Mutex
	codes [][]string
}

func (p *codePool) take(w int) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.codes[w]) == 0 {
		return "", false
	}
	c := p.codes[w][0]
	p.codes[w] = p.codes[w][1:]
	return c, true
}

// prepare fetches n codes for each of conc workers.
func (f *codeflow) prepare(conc, n int) (*codePool, error) {
	p := &codePool{codes: make([][]string, conc)}
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for w := range conc {
		wg.Go(func() {
			for range n {
				code, st, err := f.authorize(f.b.ctx, w)
				if err == nil && code == "" {
					err = fmt.Errorf("authorize: status %d", st)
				}
				if err != nil {
					errs[w] = err
					return
				}
				p.codes[w] = append(p.codes[w], code)
			}
		})
	}
	wg.Wait()
	return p, errors.Join(errs...)
}

// rawExchange runs the statements of one code exchange (core.OAuth.
// ExchangeCode after client authentication's lookup) through the store on
// codes inserted beforehand: read the client, spend the code, read the
// user and the browser session, then one transaction creating the
// session and its refresh token, linking the code and writing the audit
// row.
type rawExchange struct {
	client  core.Client
	user    core.User
	browser uuid.UUID
	mu      sync.Mutex
	hashes  [][]byte
}

func (b *bench) newRawExchange(clientID string, n int) (*rawExchange, error) {
	ctx := b.ctx
	c, err := b.store.ClientByID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	u, err := b.store.UserByEmail(ctx, "default", benchEmail(0))
	if err != nil {
		return nil, err
	}
	r := &rawExchange{client: c, user: u}
	now := time.Now().UTC()
	bs := core.BrowserSession{ID: uuid.New(), UserID: u.ID, TenantID: u.TenantID, Hash: token.HashOpaque(rand.Text()),
		CreatedAt: now, AuthTime: now, ExpiresAt: now.Add(12 * time.Hour), IdleExpiresAt: now.Add(12 * time.Hour), LastUsedAt: now,
		ClientIP: "127.0.0.1", UserAgent: "bench"}
	err = b.store.InTx(ctx, func(tx core.Tx) error {
		if err := tx.CreateBrowserSession(ctx, &bs); err != nil {
			return err
		}
		for range n {
			h := token.HashOpaque(rand.Text())
			bid := bs.ID
			if err := tx.CreateCode(ctx, &core.AuthCode{Hash: h, ClientID: c.ID, UserID: u.ID, BrowserSessionID: &bid,
				RedirectURI: codeflowRedirect, Scopes: []string{"openid", "email", "profile"}, Nonce: "n", AuthTime: now,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
			r.hashes = append(r.hashes, h)
		}
		return nil
	})
	r.browser = bs.ID
	return r, err
}

func (r *rawExchange) next() ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hashes) == 0 {
		return nil, false
	}
	h := r.hashes[0]
	r.hashes = r.hashes[1:]
	return h, true
}

func (r *rawExchange) run(ctx context.Context, b *bench) error {
	hash, ok := r.next()
	if !ok {
		return errDry
	}
	now := time.Now().UTC()
	if _, err := b.store.ClientByID(ctx, r.client.ID); err != nil {
		return err
	}
	code, err := b.store.UseCode(ctx, hash, now)
	if err != nil {
		return err
	}
	u, err := b.store.UserByID(ctx, code.UserID)
	if err != nil {
		return err
	}
	if _, err := b.store.BrowserSessionByID(ctx, *code.BrowserSessionID); err != nil {
		return err
	}
	at := code.AuthTime
	sess := &core.Session{ID: uuid.New(), UserID: u.ID, TenantID: u.TenantID, CreatedAt: now, ExpiresAt: now.Add(720 * time.Hour),
		IdleExpiresAt: now.Add(168 * time.Hour), LastUsedAt: now, ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
		ClientID: r.client.ID, ClientBound: true, Scope: "openid email profile", AuthTime: &at, BrowserSessionID: code.BrowserSessionID}
	raw, _ := token.NewOpaque()
	rt := &core.RefreshToken{ID: uuid.New(), SessionID: sess.ID, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: sess.IdleExpiresAt}
	return b.store.InTx(ctx, func(tx core.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(ctx, rt); err != nil {
			return err
		}
		if err := tx.SetCodeSession(ctx, hash, sess.ID); err != nil {
			return err
		}
		uid, tid, sid := u.ID, u.TenantID, sess.ID
		return tx.InsertAuditEvent(ctx, &core.AuditEvent{Time: now, Event: core.EventLoginSuccess, Outcome: core.OutcomeSuccess,
			Reason: "code", RequestID: uuid.NewString(), ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
			ClientID: r.client.ID, ClientIDVerified: true, SubjectID: &uid, SubjectEmail: u.Email, TenantID: &tid,
			TenantSlug: u.TenantSlug, SessionID: &sid})
	})
}

// s6 runs the whole flow, then the exchange alone beside its raw SQL.
func (b *bench) s6() error {
	p := b.plan
	conc := p.codeflowConcurrency
	f, err := newCodeflow(b, conc)
	if err != nil {
		return err
	}
	defer f.http.CloseIdleConnections()
	ser := series{}
	for rep := range p.runs {
		b.waitQuiet()
		res := b.load("S6", fmt.Sprintf("code flow c=%d", conc), conc, p.s6Run, f.flow)
		ser.add("rate", res.rate(http.StatusOK))
		ser.add("cpu", msOf(res.cpuPer(http.StatusOK)))
		ser.add("db", msOf(res.dbCPUPer(http.StatusOK)))
		ser.add("p99", msOf(res.latency(0.99, http.StatusOK)))
		ser.add("errors", float64(len(res.samples)-res.count(http.StatusOK)))

		// The exchange alone: codes fetched beforehand, enough for the
		// window at three times the whole flow's rate.
		perWorker := int(3*res.rate(http.StatusOK)*p.s6Run.Seconds())/conc + 16
		pool, err := f.prepare(conc, perWorker)
		if err != nil {
			return err
		}
		raw, err := b.newRawExchange(f.client.ID, 3*perWorker*conc)
		if err != nil {
			return err
		}
		b.waitQuiet()
		base := parallel(b.ctx, b.svc, conc, p.s6Base, func(int) error { return raw.run(b.ctx, b) })
		time.Sleep(p.settle)
		ex := b.load("S6", fmt.Sprintf("token exchange c=%d", conc), conc, p.s6Run, func(ctx context.Context, w int) (int, error) {
			code, ok := pool.take(w)
			if !ok {
				return statusError, errDry
			}
			return f.exchange(ctx, code)
		})
		ser.add("exRate", ex.rate(http.StatusOK))
		ser.add("exCPU", msOf(ex.cpuPer(http.StatusOK)))
		ser.add("exDB", msOf(ex.dbCPUPer(http.StatusOK)))
		ser.add("raw", base.rate)
		ser.add("rawDB", msOf(base.dbPer))
		ser.add("exErrors", float64(len(ex.samples)-ex.count(http.StatusOK))+float64(base.errors))
		b.logf("S6 run %d/%d c=%d: %.0f flows/s, %.2f ms server CPU/flow; exchange %.0f/s (raw SQL %.0f/s), %.2f ms CPU/exchange, codes %v %v",
			rep+1, p.runs, conc, res.rate(http.StatusOK), msOf(res.cpuPer(http.StatusOK)), ex.rate(http.StatusOK), base.rate,
			msOf(ex.cpuPer(http.StatusOK)), res.codes(), ex.codes())
	}
	sc := "S6 code flow c=" + strconv.Itoa(conc)
	b.add(figure{Scenario: sc, Name: "signed-in code flows/s (authorize, 302, token exchange)", Unit: "/s", Value: newStat(ser["rate"])})
	b.add(figure{Scenario: sc, Name: "server CPU per code flow", Unit: "ms", Value: newStat(ser["cpu"]), Target: valueAtMost(2)})
	b.add(figure{Scenario: sc, Name: "Postgres+Redis CPU per code flow", Unit: "ms", Value: newStat(ser["db"])})
	b.add(figure{Scenario: sc, Name: "code flow p99 latency", Unit: "ms", Value: newStat(ser["p99"])})
	b.add(figure{Scenario: sc, Name: "failed code flows", Unit: "", Value: newStat(ser["errors"]), Target: valueIs(0)})
	b.add(withBaseline(figure{Scenario: sc, Name: "token exchanges/s", Unit: "/s"},
		"raw exchange SQL tx/s", ser["exRate"], ser["raw"]))
	b.add(figure{Scenario: sc, Name: "server CPU per token exchange", Unit: "ms", Value: newStat(ser["exCPU"])})
	b.add(withBaseline(figure{Scenario: sc, Name: "Postgres+Redis CPU per token exchange", Unit: "ms"},
		"ms per raw exchange", ser["exDB"], ser["rawDB"]))
	b.add(figure{Scenario: sc, Name: "failed exchanges (incl. raw)", Unit: "", Value: newStat(ser["exErrors"]), Target: valueIs(0)})
	return nil
}
