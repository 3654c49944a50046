// Package harness is the test bench the examples share: it runs a real
// `idp serve` (the built bin/idp, on PostgreSQL and Redis from
// internal/testenv, as `make test` uses them), creates users, mints and
// forges tokens, rotates keys, and runs the checks every example must pass
// against the service it started (Check).
package harness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver, to read the sealed signing key

	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/internal/testenv"
)

const (
	// JWKSMaxAge is the idp's keys.jwks_max_age here: short, so the
	// emergency rotation check ends in seconds. Examples whose JWKS client
	// doesn't read Cache-Control are configured with the same lifetime.
	JWKSMaxAge = 2 * time.Second
	// PollInterval is keys.poll_interval: the longest idp itself takes to
	// see a rotation made by another process (a Redis notice is faster).
	PollInterval = 500 * time.Millisecond
	// Audience is tokens.audience.
	Audience = "idp"
	// Password is every test user's password.
	Password = "correct horse battery staple"
)

// IDP is one running `idp serve` with its own database and Redis.
type IDP struct {
	t      *testing.T
	URL    string // also the issuer
	bin    string
	dir    string
	dbURL  string
	encKey []byte
	env    []string
	stderr *lockedBuffer
}

// Start migrates a fresh database and serves idp on a free port until the
// test ends.
func Start(t *testing.T) *IDP {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is Start with more idp settings as IDP_* variables (such as
// IDP_TOKENS_ACCESS_TTL); they win over the harness's own.
func StartWith(t *testing.T, settings map[string]string) *IDP {
	t.Helper()
	root := testenv.RepoRoot(t)
	bin := os.Getenv("IDP_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "idp")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not found: run `make build` (make test-examples does)", bin)
	}
	p := &IDP{t: t, bin: bin, dir: t.TempDir(), dbURL: testenv.Postgres(t), encKey: random(32), stderr: &lockedBuffer{}}
	redis := testenv.StartRedis(t)
	port := testenv.FreePort(t)
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	vars := map[string]string{
		"IDP_DATABASE_URL":            p.dbURL,
		"IDP_REDIS_URL":               redis.URL(),
		"IDP_SECURITY_PEPPER":         base64.RawURLEncoding.EncodeToString(random(36)),
		"IDP_KEYS_ENCRYPTION_KEY":     base64.StdEncoding.EncodeToString(p.encKey),
		"IDP_SECURITY_BCRYPT_COST":    "4",
		"IDP_MAIL_FILE_PATH":          filepath.Join(p.dir, "mail.jsonl"),
		"IDP_KEYS_POLL_INTERVAL":      PollInterval.String(),
		"IDP_KEYS_JWKS_MAX_AGE":       JWKSMaxAge.String(),
		"IDP_RATELIMIT_IP_PER_MINUTE": "0", // every request comes from 127.0.0.1
		"IDP_HTTP_ADDR":               fmt.Sprintf("127.0.0.1:%d", port),
		"IDP_ISSUER":                  p.URL,
		"IDP_TOKENS_AUDIENCE":         Audience,
	}
	maps.Copy(vars, settings)
	p.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir}
	for k, v := range vars {
		p.env = append(p.env, k+"="+v)
	}
	p.Run("migrate", "up")
	p.serve()
	return p
}

func (p *IDP) serve() {
	t := p.t
	cmd := exec.Command(p.bin, "serve")
	cmd.Env, cmd.Dir, cmd.Stderr = p.env, p.dir, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start idp serve: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("idp serve stderr:\n%s", p.stderr.String())
		}
	})
	WaitFor(t, 15*time.Second, "idp serve /readyz", func() bool {
		select {
		case <-done:
			t.Fatalf("idp serve exited: %s", p.stderr.String())
		default:
		}
		resp, err := http.Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Run runs an idp command to completion and returns its stdout.
func (p *IDP) Run(args ...string) string {
	p.t.Helper()
	return p.RunStdin("", args...)
}

// RunStdin is Run with standard input.
func (p *IDP) RunStdin(stdin string, args ...string) string {
	p.t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Env, cmd.Dir, cmd.Stdin = p.env, p.dir, strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("idp %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// CreateUser creates an active user of the default tenant with Password,
// adding its roles to the tenant's catalogue first when they are missing.
func (p *IDP) CreateUser(email string, roles ...string) {
	p.t.Helper()
	args := []string{"users", "create", "--email", email, "--password-stdin"}
	for _, r := range roles {
		p.ensureRole(r)
		args = append(args, "--role", r)
	}
	p.RunStdin(Password+"\n", args...)
}

// ensureRole adds role to the default tenant's catalogue; one that is
// there already (exit 3, conflict) is fine.
func (p *IDP) ensureRole(role string) {
	p.t.Helper()
	cmd := exec.Command(p.bin, "roles", "create", role, "--tenant", "default")
	cmd.Env, cmd.Dir = p.env, p.dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil && !strings.Contains(errb.String(), "already has a role") {
		p.t.Fatalf("idp roles create %s: %v: %s", role, err, errb.String())
	}
}

// Tokens is idp's token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	KID          string `json:"kid"`
}

// Login signs email in with Password.
func (p *IDP) Login(email string) Tokens {
	p.t.Helper()
	tok, err := p.TryLogin(email)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// TryLogin is Login for goroutines, which must not call t.Fatal.
func (p *IDP) TryLogin(email string) (Tokens, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": Password})
	resp, err := http.Post(p.URL+"/api/v1/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		return Tokens{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok Tokens
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &tok) != nil || tok.AccessToken == "" {
		return Tokens{}, fmt.Errorf("login of %s: %d %s", email, resp.StatusCode, raw)
	}
	return tok, nil
}

// Me is idp's own view of a token's user (/api/v1/auth/me).
type Me struct {
	Sub      string   `json:"sub"`
	TenantID string   `json:"tenant_id"`
	Roles    []string `json:"roles"`
	Email    string   `json:"email"`
}

// Me asks idp who a token belongs to.
func (p *IDP) Me(access string) Me {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/api/v1/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var me Me
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&me) != nil {
		p.t.Fatalf("/api/v1/auth/me: %d", resp.StatusCode)
	}
	return me
}

// Rotation is the outcome of `idp keys rotate`.
type Rotation struct {
	Retired string `json:"retired"`
	Active  string `json:"active"`
	Next    string `json:"next"`
}

// Rotate runs `idp keys rotate` (with --emergency if asked).
func (p *IDP) Rotate(emergency bool) Rotation {
	p.t.Helper()
	args := []string{"keys", "rotate", "--output", "json"}
	if emergency {
		args = append(args, "--emergency")
	}
	var r Rotation
	if err := json.Unmarshal([]byte(p.Run(args...)), &r); err != nil || r.Active == "" {
		p.t.Fatalf("keys rotate: %v", err)
	}
	return r
}

// SigningKey is idp's active private key, unsealed from the database with
// the encryption key this harness gave idp. It lets tests sign tokens idp
// would never issue (expired, another audience) with idp's real key.
func (p *IDP) SigningKey() token.Key {
	p.t.Helper()
	db, err := sql.Open("postgres", p.dbURL)
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	var kid string
	var sealed []byte
	if err := db.QueryRow(`SELECT kid, private_key_sealed FROM signing_keys WHERE state = 'active'`).Scan(&kid, &sealed); err != nil {
		p.t.Fatalf("read the active signing key: %v", err)
	}
	s, err := token.NewSealer(p.encKey)
	if err != nil {
		p.t.Fatal(err)
	}
	seed, err := s.Open(sealed, []byte(kid))
	if err != nil {
		p.t.Fatalf("unseal the signing key: %v", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return token.Key{ID: kid, Private: priv, Public: priv.Public().(ed25519.PublicKey)}
}

// WaitFor polls cond every 50 ms until it holds, failing the test after d.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// lockedBuffer collects a child's stderr while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// AuditEvent is one row of `idp audit list --output json`.
type AuditEvent struct {
	Event    string `json:"event"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	ClientID string `json:"client_id"`
}

// Audit is idp's audit log about email, newest first (at most 1000 events).
func (p *IDP) Audit(email string) []AuditEvent {
	p.t.Helper()
	var out struct {
		Events []AuditEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(p.Run("audit", "list", "--email", email, "--limit", "1000", "--output", "json")), &out); err != nil {
		p.t.Fatalf("audit list: %v", err)
	}
	return out.Events
}
