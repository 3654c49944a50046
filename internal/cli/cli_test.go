package cli_test

// The CLI is tested by running it: TestMain builds cmd/idp once, and every
// test runs that binary against its own database and Redis, the way an
// operator would. Text output is compared with golden files in testdata
// (`go test ./internal/cli -update` rewrites them); JSON output is decoded
// and checked field by field.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq" // fixtures the CLI can't make (sessions, locks)

	"github.com/idp-dev/idp/migrations"

	"github.com/idp-dev/idp/internal/testenv"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")
	idpBin string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "idp-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := testenv.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	idpBin = filepath.Join(dir, "idp")
	build := exec.Command("go", "build", "-o", idpBin, "./cmd/idp")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/idp: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testEnv is one installation: its own database, Redis and settings.
type testEnv struct {
	env      []string // IDP_* settings, KEY=VALUE
	dbURL    string
	mailPath string
}

// newEnv returns a migrated installation.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnvNoMigrate(t)
	runOK(t, e.env, "", "migrate", "up")
	return e
}

// newEnvNoMigrate returns an installation with an empty database.
func newEnvNoMigrate(t *testing.T) *testEnv {
	t.Helper()
	dbURL := testenv.Postgres(t)
	redis := testenv.StartRedis(t)
	mailPath := filepath.Join(t.TempDir(), "mail.jsonl")
	return &testEnv{
		dbURL:    dbURL,
		mailPath: mailPath,
		env: []string{
			"IDP_DATABASE_URL=" + dbURL,
			"IDP_REDIS_URL=" + redis.URL(),
			"IDP_SECURITY_PEPPER=" + randomHex(t, 24),
			"IDP_KEYS_ENCRYPTION_KEY=" + randomKey(t),
			"IDP_SECURITY_BCRYPT_COST=4",
			"IDP_MAIL_FILE_PATH=" + mailPath,
			"IDP_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		},
	}
}

// with returns env with some settings replaced or added; "KEY=" drops KEY.
func with(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv))
	drop := map[string]bool{}
	for _, s := range kv {
		drop[strings.SplitN(s, "=", 2)[0]] = true
	}
	for _, s := range env {
		if !drop[strings.SplitN(s, "=", 2)[0]] {
			out = append(out, s)
		}
	}
	for _, s := range kv {
		if !strings.HasSuffix(s, "=") {
			out = append(out, s)
		}
	}
	return out
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// run executes idp with exactly env (plus PATH and HOME) in an empty working
// directory, so no ./config/idp.yaml is picked up. Whatever the command, its
// output must never contain the pepper or the encryption key.
func run(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, idpBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("idp %s: %v", strings.Join(args, " "), err)
	}
	stdout, stderr = out.String(), errOut.String()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		// Short values are test inputs (such as a too-short pepper) that may
		// legitimately appear inside ordinary words.
		if (k == "IDP_SECURITY_PEPPER" || k == "IDP_KEYS_ENCRYPTION_KEY") && len(v) >= 8 &&
			strings.Contains(stdout+stderr, v) {
			t.Fatalf("idp %s printed %s:\nstdout: %s\nstderr: %s", strings.Join(args, " "), k, stdout, stderr)
		}
	}
	return stdout, stderr, code
}

// runOK runs a command that must succeed silently on stderr and returns stdout.
func runOK(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, env, stdin, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("idp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// runJSON runs a command with --output json and decodes its one document.
func runJSON[T any](t *testing.T, env []string, stdin string, args ...string) T {
	t.Helper()
	args = append(args, "--output", "json")
	return decodeOne[T](t, runOK(t, env, stdin, args...))
}

// decodeOne checks that s holds exactly one JSON document and decodes it.
func decodeOne[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document:\n%s", s)
	}
	return v
}

// runFail runs a command that must exit with code, print nothing on stdout
// and exactly one error line on stderr, which it returns.
func runFail(t *testing.T, env []string, code int, stdin string, args ...string) string {
	t.Helper()
	stdout, stderr, got := run(t, env, stdin, args...)
	if got != code {
		t.Fatalf("idp %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("idp %s: stdout on failure: %q", strings.Join(args, " "), stdout)
	}
	if !strings.HasPrefix(stderr, "idp: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("idp %s: stderr is not one error line: %q", strings.Join(args, " "), stderr)
	}
	return strings.TrimSpace(stderr)
}

// Volatile parts of text output are masked with placeholders of the same
// width, so tables and boxes keep their shape in the golden files.
var (
	reUUID     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	reTime     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`)
	reRun      = regexp.MustCompile(`[A-Za-z0-9_-]+`) // a kid is a run of exactly 43
	rePassword = regexp.MustCompile(`(Password\s+)[A-Za-z0-9_-]{24}`)
	reGoVer    = regexp.MustCompile(`go1\.\d+(\.\d+)?((rc|beta)\d+)?`)
)

func normalize(s string) string {
	s = reUUID.ReplaceAllString(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	s = reTime.ReplaceAllString(s, "YYYY-MM-DDThh:mm:ssZ")
	s = rePassword.ReplaceAllString(s, "${1}<one-time-password>*****")
	s = reRun.ReplaceAllStringFunc(s, func(w string) string {
		if len(w) == 43 {
			return "<kid>" + strings.Repeat("*", 38)
		}
		return w
	})
	return reGoVer.ReplaceAllString(s, "goX")
}

// golden compares normalised text output with testdata/name.golden.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/cli -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update if the change is intended)\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// sqlExec runs a fixture statement on the test database: sessions start with
// an HTTP login and locks with failed logins, neither of which the CLI does.
func sqlExec(t *testing.T, dbURL, query string, args ...any) string {
	t.Helper()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out string
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&out); err != nil {
		t.Fatalf("fixture %q: %v", query, err)
	}
	return out
}

// newSession starts a live session for a user, as a login would.
func newSession(t *testing.T, e *testEnv, tenant, email string) string {
	t.Helper()
	return sqlExec(t, e.dbURL, `
		INSERT INTO sessions (user_id, tenant_id, expires_at, idle_expires_at)
		SELECT u.id, u.tenant_id, now() + interval '1 hour', now() + interval '1 hour'
		FROM users u JOIN tenants t ON t.id = u.tenant_id
		WHERE t.slug = $1 AND u.email = $2
		RETURNING id::text`, tenant, email)
}

func liveSessions(t *testing.T, e *testEnv) int {
	t.Helper()
	n, _ := strconv.Atoi(sqlExec(t, e.dbURL, `SELECT count(*)::text FROM sessions WHERE revoked_at IS NULL`))
	return n
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	e := newEnvNoMigrate(t)
	total := migrationCount(t)

	type status struct {
		Migrations []struct {
			Version int64  `json:"version"`
			Name    string `json:"name"`
			Applied bool   `json:"applied"`
		} `json:"migrations"`
	}
	applied := func(st status) (n int) {
		for _, m := range st.Migrations {
			if m.Applied {
				n++
			}
		}
		return n
	}
	check := func(wantApplied int) {
		t.Helper()
		st := runJSON[status](t, e.env, "", "migrate", "status")
		if len(st.Migrations) != total || applied(st) != wantApplied {
			t.Fatalf("migrate status: %d migrations, %d applied; want %d, %d: %+v", len(st.Migrations), applied(st), total, wantApplied, st)
		}
	}

	golden(t, "migrate_status_pending", runOK(t, e.env, "", "migrate", "status"))
	check(0)
	// Admin commands refuse an old schema with advice, not a driver error.
	if msg := runFail(t, e.env, 3, "", "users", "list"); !strings.Contains(msg, strconv.Itoa(total)+" database migration(s) pending: run `idp migrate up` first") {
		t.Errorf("users list before migrate up: %s", msg)
	}

	golden(t, "migrate_up", runOK(t, e.env, "", "migrate", "up"))
	golden(t, "migrate_status_applied", runOK(t, e.env, "", "migrate", "status"))
	check(total)
	golden(t, "migrate_up_again", runOK(t, e.env, "", "migrate", "up"))

	golden(t, "migrate_down_all", runOK(t, e.env, "", "migrate", "down", "--steps", strconv.Itoa(total)))
	check(0)
	runFail(t, e.env, 2, "", "migrate", "down", "--steps", "0")

	up := runJSON[map[string][]map[string]any](t, e.env, "", "migrate", "up")
	if len(up["applied"]) != total {
		t.Fatalf("migrate up after down: %v", up)
	}
	check(total)
	// Rolling back one and re-applying leaves the signing keys usable.
	down := runJSON[map[string][]map[string]any](t, e.env, "", "migrate", "down")
	if len(down["rolled_back"]) != 1 {
		t.Fatalf("migrate down: %v", down)
	}
	check(total - 1)
	runFail(t, e.env, 3, "", "tenants", "list", "--output", "json")
	runOK(t, e.env, "", "migrate", "up")
	check(total)
	runOK(t, e.env, "", "tenants", "list")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	// version reads no configuration: it works with none at all.
	golden(t, "version", runOK(t, nil, "", "version"))
	v := runJSON[map[string]string](t, nil, "", "version")
	if v["version"] == "" || !strings.HasPrefix(v["go"], "go1.") || len(v) != 2 {
		t.Fatalf("version json: %v", v)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	env := []string{"IDP_SECURITY_PEPPER=" + randomHex(t, 24)}
	for _, args := range [][]string{
		{"--output", "yaml", "version"},
		{"version", "--output", "yaml"},
		{"bogus"},
		{"users", "bogus"},
		{"migrate", "sideways"},
		{"users", "seed"},                                                 // --email is required
		{"users", "disable", "--tenant", "acme"},                          // --email is required
		{"users", "list", "--no-such-flag"},                               // unknown flag
		{"tenants", "create"},                                             // SLUG is required
		{"tenants", "create", "a", "b"},                                   // one SLUG only
		{"keys", "list", "extra"},                                         // no arguments
		{"migrate", "down", "--steps", "many"},                            // not a number
		{"audit", "list", "--limit", "ten"},                               // not a number
		{"tokens", "revoke"},                                              // no form
		{"tokens", "revoke", "--tenant", "acme"},                          // --tenant alone is no form
		{"tokens", "revoke", "--all"},                                     // --all needs --tenant
		{"audit", "list", "--since", "yesterday"},                         // neither duration nor time
		{"audit", "list", "--since", "-1h"},                               // the past only
		{"users", "create", "--email", "a@b.example", "--password-stdin"}, // empty stdin
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			runFail(t, env, 2, "", args...)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	env := []string{
		"IDP_REDIS_URL=redis://127.0.0.1:1/0",
		"IDP_SECURITY_PEPPER=short",
		"IDP_KEYS_ENCRYPTION_KEY=nope",
		"IDP_TOKENS_ACCESS_TTL=soon",
	}
	for _, out := range []string{"text", "json"} {
		msg := runFail(t, env, 2, "", "migrate", "status", "--output", out)
		for _, key := range []string{"security.pepper", "keys.encryption_key", "tokens.access_ttl", "database.url"} {
			if !strings.Contains(msg, key) {
				t.Errorf("config error does not name %s: %s", key, msg)
			}
		}
		for _, secret := range []string{"short", "nope"} {
			if strings.Contains(msg, secret) {
				t.Errorf("config error shows the secret value %q: %s", secret, msg)
			}
		}
	}
	// An admin command validates the config before touching anything.
	runFail(t, env, 2, "", "users", "list")
	runFail(t, env, 2, "", "--config", "/nonexistent/idp.yaml", "users", "list")
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	get := func(key string) string {
		for _, kv := range e.env {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				return v
			}
		}
		t.Fatalf("%s not in env", key)
		return ""
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The file holds the URLs and a bad pepper; the environment overlays a
	// good pepper, so the command works only if both are read.
	file := write("idp.yaml", fmt.Sprintf(`
database:
  url: %q
redis:
  url: %q
security:
  pepper: too-short
  bcrypt_cost: 4
tokens:
  access_ttl: 5m
http:
  trusted_proxies: ["10.0.0.0/8", "192.168.1.1"]
`, get("IDP_DATABASE_URL"), get("IDP_REDIS_URL")))
	env := with(e.env, "IDP_DATABASE_URL=", "IDP_REDIS_URL=")
	st := runJSON[map[string][]any](t, env, "", "--config", file, "migrate", "status")
	if len(st["migrations"]) != migrationCount(t) {
		t.Fatalf("status with config file: %v", st)
	}
	runOK(t, env, "", "--config", file, "users", "list")

	// Without the env pepper the file's bad one is reported.
	msg := runFail(t, with(env, "IDP_SECURITY_PEPPER="), 2, "", "--config", file, "users", "list")
	if !strings.Contains(msg, "security.pepper") || strings.Contains(msg, "too-short") {
		t.Errorf("file pepper error: %s", msg)
	}
	// Without the file there is no database URL.
	msg = runFail(t, env, 2, "", "users", "list")
	if !strings.Contains(msg, "database.url") || !strings.Contains(msg, "redis.url") {
		t.Errorf("missing URLs error: %s", msg)
	}

	typo := write("typo.yaml", "tokens:\n  acess_ttl: 5m\n")
	msg = runFail(t, e.env, 2, "", "--config", typo, "users", "list")
	if !strings.Contains(msg, "tokens.acess_ttl is not a known setting") {
		t.Errorf("unknown key error: %s", msg)
	}
	bad := write("bad.yaml", "database: [unclosed\n")
	msg = runFail(t, e.env, 2, "", "--config", bad, "users", "list")
	if !strings.Contains(msg, "cannot be read as YAML") {
		t.Errorf("bad yaml error: %s", msg)
	}
	msg = runFail(t, e.env, 2, "", "--config", filepath.Join(dir, "missing.yaml"), "users", "list")
	if !strings.Contains(msg, "not found") {
		t.Errorf("missing file error: %s", msg)
	}
}

// migrationCount is how many migrations the binary embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}
