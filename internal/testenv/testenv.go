// Package testenv gives tests real PostgreSQL databases and Redis servers.
//
// `make test` starts one PostgreSQL server and exports IDP_TEST_DATABASE_URL;
// each test gets a fresh database on it. Redis servers are started per test
// (redis-server starts in milliseconds), so a test may stop, restart or flush
// its own without disturbing others. Without the services a test is skipped,
// except under CI=true, where it fails.
package testenv

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver
)

// DatabaseURLEnv names the admin URL of the test PostgreSQL server.
const DatabaseURLEnv = "IDP_TEST_DATABASE_URL"

// missing skips the test, or fails it in CI where services must exist.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (run the tests with `make test`)", what)
	}
	t.Skipf("%s not available; run the tests with `make test`", what)
}

// Postgres creates an empty database for this test and returns its URL. The
// database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(DatabaseURLEnv)
	if admin == "" {
		missing(t, DatabaseURLEnv)
	}
	db, err := sql.Open("postgres", admin)
	if err != nil {
		t.Fatalf("open admin database: %v", err)
	}
	defer db.Close()
	name := "t_" + randomHex(8)
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("postgres", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", DatabaseURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis is a redis-server owned by one test.
type Redis struct {
	t    testing.TB
	Port int
	dir  string
	cmd  *exec.Cmd
	// prog, args and ready shape a cluster node, replica or sentinel
	// (redis_topology.go); zero values start a plain server.
	prog  string
	args  []string
	ready string
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// StartRedis starts a new redis-server on a free loopback port; it is
// stopped when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server")
	}
	r := &Redis{t: t, Port: FreePort(t), dir: t.TempDir()}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on its port and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	prog, want := "redis-server", "Ready to accept connections"
	if r.prog != "" {
		prog = r.prog
	}
	if r.ready != "" {
		want = r.ready
	}
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir}
	if prog == "redis-sentinel" {
		// A sentinel takes its (rewritable) config file first.
		args = append([]string{filepath.Join(r.dir, "sentinel.conf")}, args[:4]...)
		args = append(args, "--dir", r.dir)
	}
	r.cmd = exec.Command(prog, append(args, r.args...)...)
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		r.t.Fatalf("redis-server stdout: %v", err)
	}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), want) {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("%s did not start on port %d (waited for %q)", prog, r.Port, want)
	}
}

// Stop kills the server; Start brings it back on the same port.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RepoRoot returns the module root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// ModuleRoot finds the directory holding go.mod above the working
// directory, for code without a testing.TB (TestMain).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
