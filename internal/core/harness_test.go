package core_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/mail"
	"github.com/idp-dev/idp/internal/testenv"
)

// clock is a settable time source, so expiry is tested without sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is a core built on real PostgreSQL and Redis.
type harness struct {
	t        *testing.T
	svcs     *core.Services
	db       *sqlx.DB
	redis    *testenv.Redis
	clock    *clock
	cfg      core.Config
	mailPath string
	deps     core.Deps
	pepper   []byte
}

const testPassword = "correct horse battery staple"

func newHarness(t *testing.T, tweak ...func(*core.Config)) *harness {
	t.Helper()
	mailPath := filepath.Join(t.TempDir(), "mail.jsonl")
	mailer, err := mail.NewFile(mailPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := coretest.Config()
	for _, f := range tweak {
		f(&cfg)
	}
	clk := &clock{now: time.Now().UTC()}
	env := coretest.New(t, coretest.Options{Config: cfg, Mailer: mailer, Now: clk.Now})
	return &harness{t: t, svcs: env.Services, db: env.DB, redis: env.Redis, clock: clk, cfg: cfg,
		mailPath: mailPath, deps: env.Deps, pepper: env.Pepper}
}

// withCost builds a second core on the same store and Redis whose hasher
// uses another bcrypt cost (the pepper stays).
func (h *harness) withCost(cost int) *core.Services {
	h.t.Helper()
	hasher, err := password.NewHasher(h.pepper, cost)
	if err != nil {
		h.t.Fatal(err)
	}
	deps := h.deps
	deps.Hasher = hasher
	svcs, err := core.New(h.cfg, deps)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := svcs.Keys.Load(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return svcs
}

// roles adds roles to the tenant's catalogue unless it has them.
func (h *harness) roles(tenant string, roles ...string) {
	h.t.Helper()
	for _, r := range roles {
		_, err := h.svcs.Roles.Create(context.Background(), core.Operator(tenant), r, "", meta())
		if err != nil && core.ErrorCode(err) != core.ECONFLICT {
			h.t.Fatalf("create role %s: %v", r, err)
		}
	}
}

// user creates an active user in the default tenant, adding its roles to
// the catalogue first when they are missing.
func (h *harness) user(email string, roles ...string) core.UserView {
	h.t.Helper()
	h.roles("default", roles...)
	v, err := h.svcs.Users.Create(context.Background(), core.CreateInput{Email: email, Password: testPassword, Roles: roles}, meta())
	if err != nil {
		h.t.Fatalf("create %s: %v", email, err)
	}
	return v
}

func (h *harness) login(email, pw string) (core.TokenResponse, error) {
	return h.svcs.Auth.Login(context.Background(), core.LoginInput{Email: email, Password: pw}, meta())
}

func (h *harness) mustLogin(email string) core.TokenResponse {
	h.t.Helper()
	resp, err := h.login(email, testPassword)
	if err != nil {
		h.t.Fatalf("login %s: %v", email, err)
	}
	return resp
}

// count runs a COUNT(*) query.
func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.Get(&n, query, args...); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// mails waits until the outbox worker has delivered every queued mail,
// then reads the mail file.
func (h *harness) mails() []core.Mail {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.count(`SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL`) > 0 {
		if time.Now().After(deadline) {
			h.t.Fatal("queued mail was not delivered within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, err := os.ReadFile(h.mailPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var out []core.Mail
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m core.Mail
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			h.t.Fatalf("mail line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func meta() core.Meta {
	return core.Meta{RequestID: "req-1", ClientIP: netip.MustParseAddr("192.0.2.10"), UserAgent: "test"}
}

func wantCode(t *testing.T, err error, code core.Code) {
	t.Helper()
	if got := core.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}
