package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/server"
	"github.com/idp-dev/idp/internal/testenv"
	"github.com/idp-dev/idp/internal/web"
)

// Accounts every test server starts with, in the default tenant.
const (
	testTenant    = "default"
	testAdmin     = "admin@example.com" // role admin
	testUser      = "user@example.com"  // no roles
	testPassword  = "correct horse battery staple"
	testAudience  = "idp"
	testAccessTTL = 15 * time.Minute
)

// testPepper is security.pepper of every test server: random, so a test
// can look for it in database dumps without false hits.
var testPepper = []byte(rand.Text() + rand.Text())

// testEncryptionKey is keys.encryption_key of every test server, so a test
// can open the sealed signing keys and mint tokens the server will trust.
var testEncryptionKey = bytes.Repeat([]byte("k"), 32)

// testEnv is a running API on real PostgreSQL and Redis.
type testEnv struct {
	TS       *httptest.Server
	Services *core.Services
	Server   *server.Server
	Store    *postgres.Store
	Redis    *testenv.Redis
	Mail     *mailbox
	Logs     *syncBuffer // JSON log lines of the server and core
	DB       *sqlx.DB    // the test database, for checks in SQL
	Clock    *testClock  // core's clock; Advance moves it forward
}

// testClock is the clock core reads (core.Deps.Now): real time plus an
// offset, so tests can jump past a TTL instead of sleeping.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves core's clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// newTestEnv starts the API on a fresh database and Redis with the test
// accounts created, torn down when the test ends; adjust may change the
// core config and server options before anything is built.
func newTestEnv(t testing.TB, adjust func(*core.Config, *server.Options)) *testEnv {
	t.Helper()
	ctx := context.Background()

	// The listener exists before the services so the issuer (the iss claim
	// and the discovery links) is the address the tests talk to.
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()

	logs := &syncBuffer{}
	logger := slog.New(server.NewLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	cfg := coretest.Config()
	cfg.Issuer, cfg.Audience, cfg.AccessTTL, cfg.DefaultTenant = issuer, testAudience, testAccessTTL, testTenant
	opts := server.Options{
		Logger:         logger,
		Issuer:         issuer,
		JWKSMaxAge:     5 * time.Minute,
		RequestTimeout: 10 * time.Second,
	}
	if adjust != nil {
		adjust(&cfg, &opts)
	}
	mail := &mailbox{}
	clock := &testClock{}
	env := coretest.New(t, coretest.Options{Config: cfg, Mailer: mail, Now: clock.Now, Logger: logger,
		Pepper: testPepper, EncryptionKey: testEncryptionKey})
	svcs := env.Services
	if opts.Ready == nil {
		opts.Ready = func(ctx context.Context) error {
			if err := env.Store.Ping(ctx); err != nil {
				return err
			}
			return env.Limiter.Ping(ctx)
		}
	}
	meta := core.Meta{Actor: "test"}
	for _, u := range []core.CreateInput{
		{Tenant: testTenant, Email: testAdmin, Roles: []string{core.RoleAdmin}, Password: testPassword},
		{Tenant: testTenant, Email: testUser, Password: testPassword},
	} {
		if _, err := svcs.Users.Create(ctx, u, meta); err != nil {
			t.Fatalf("Users.Create(%s): %v", u.Email, err)
		}
	}

	mail.pending = func() int {
		var n int
		_ = env.DB.QueryRow(`SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL`).Scan(&n)
		return n
	}
	opts.Services = svcs
	// The hosted pages are mounted as idp serve mounts them.
	renderer, err := web.NewRenderer(web.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Options{Browser: svcs.Browser, Users: svcs.Users, Resets: svcs.Resets, OAuth: svcs.OAuth, Renderer: renderer,
		Admin: svcs.Admin, Roles: svcs.Roles,
		Issuer: issuer, Meta: server.RequestMeta, PasswordMinLength: cfg.PasswordMinLength, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	opts.Faces = append(opts.Faces, pages)
	opts.UILocales = pages.Languages()
	srv := server.New(opts)
	ts.Config = srv.HTTPServer()
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{TS: ts, Services: svcs, Server: srv, Store: env.Store, Redis: env.Redis, Mail: mail, Logs: logs, DB: env.DB, Clock: clock}
}

// mailbox is a core.Mailer that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	sent []core.Mail
	// pending counts mail still queued in the outbox; Last waits for it to
	// reach zero, since delivery happens off the request path.
	pending func() int
}

func (m *mailbox) Send(_ context.Context, msg core.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// settle waits (up to 5 s) until the outbox worker has delivered every
// queued mail.
func (m *mailbox) settle() {
	for deadline := time.Now().Add(5 * time.Second); m.pending != nil && m.pending() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Last returns the newest mail of kind to the address, once every queued
// mail is delivered.
func (m *mailbox) Last(to, kind string) (core.Mail, bool) {
	m.settle()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To == to && m.sent[i].Kind == kind {
			return m.sent[i], true
		}
	}
	return core.Mail{}, false
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines decodes every JSON log line.
func (b *syncBuffer) Lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// response is a finished HTTP exchange with its body read.
type response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// do sends a request to ts. body may be nil, a string (sent as is) or any
// value (sent as JSON); headers are name/value pairs. Without a
// Content-Type header a non-nil body is sent as application/json.
func do(t testing.TB, ts *httptest.Server, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{Response: resp, Body: b}
}

// wantStatus fails the test unless r has status.
func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
}

// wantError checks an error response: status, error code and the JSON
// error shape of CONTRACT 3.
func wantError(t testing.TB, r response, status int, code string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	m := r.JSON(t)
	if m["error"] != code {
		t.Fatalf("error %v, want %q; body %s", m["error"], code, r.Body)
	}
	if d, ok := m["error_description"].(string); !ok || d == "" {
		t.Fatalf("error_description missing; body %s", r.Body)
	}
	return m
}

// login gets a token pair for email with the test password.
func login(t testing.TB, ts *httptest.Server, email string) core.TokenResponse {
	t.Helper()
	r := do(t, ts, "POST", "/api/v1/auth/token", map[string]string{"email": email, "password": testPassword})
	wantStatus(t, r, http.StatusOK)
	var tr core.TokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func bearer(tok string) string { return "Bearer " + tok }
