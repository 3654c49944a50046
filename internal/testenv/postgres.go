package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// PostgresServer is a PostgreSQL server owned by one test, for tests that
// stop and restart the database. It takes a few seconds to start, so tests
// that only need a database use Postgres instead.
type PostgresServer struct {
	t    testing.TB
	Port int
	data string
	bin  string

	mu     sync.Mutex
	frozen []int // processes stopped by Freeze, postmaster first
}

// URL is the server's database URL.
func (p *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.Port)
}

// PGTool returns the path of a PostgreSQL client program (pg_dump,
// pg_restore, psql) of the version the tests run against.
func PGTool(t testing.TB, name string) string {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	path := filepath.Join(bin, name)
	if _, err := os.Stat(path); err != nil {
		missing(t, name+" ("+bin+")")
	}
	return path
}

// StartPostgres initialises and starts a private PostgreSQL 15 server on a
// free port; it is stopped and removed when the test ends. As root it runs
// as the postgres user, which PostgreSQL requires.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		missing(t, "PostgreSQL 15 ("+bin+")")
	}
	// A directory under /tmp: every parent must be traversable by the
	// postgres user.
	dir, err := os.MkdirTemp("/tmp", "idp-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	p := &PostgresServer{t: t, Port: FreePort(t), data: filepath.Join(dir, "data"), bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.Stop()
		os.RemoveAll(dir)
	})
	p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
	p.Start()
	return p
}

// Start starts (or restarts) the server and waits until it accepts connections.
func (p *PostgresServer) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data, "-l", p.data+".log", "-w", "-t", "30", "start", "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", p.Port, p.data))
}

// Stop stops the server, closing every client connection. (A fast, not an
// immediate, shutdown: with fsync off an immediate one can lose committed
// data, and the test would then see an empty database after Start.)
func (p *PostgresServer) Stop() {
	cmd := p.command("pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop")
	_ = cmd.Run()
}

func (p *PostgresServer) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (p *PostgresServer) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// Freeze stops the postmaster and every backend with SIGSTOP: the server
// keeps its sockets open and the kernel keeps accepting connections, but
// nothing answers, as with a hung host. Thaw (or the test's end) resumes it.
func (p *PostgresServer) Freeze() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen != nil {
		p.t.Fatal("Freeze: already frozen")
	}
	pid := p.postmasterPID()
	// The postmaster first, so that it forks no backend we would miss.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		p.t.Fatalf("SIGSTOP postmaster %d: %v", pid, err)
	}
	p.frozen = []int{pid}
	p.t.Cleanup(p.Thaw)
	for _, c := range childPIDs(p.t, pid) {
		if err := syscall.Kill(c, syscall.SIGSTOP); err == nil {
			p.frozen = append(p.frozen, c)
		}
	}
}

// Thaw resumes what Freeze stopped; it does nothing when not frozen.
func (p *PostgresServer) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.frozen) - 1; i >= 0; i-- {
		_ = syscall.Kill(p.frozen[i], syscall.SIGCONT)
	}
	p.frozen = nil
}

// Backends counts the postmaster's child processes (backends and the
// server's own workers).
func (p *PostgresServer) Backends() int {
	p.t.Helper()
	return len(childPIDs(p.t, p.postmasterPID()))
}

func (p *PostgresServer) postmasterPID() int {
	p.t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		p.t.Fatalf("postmaster.pid: %v", err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		p.t.Fatalf("postmaster.pid: %q is not a pid", first)
	}
	return pid
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(t testing.TB, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		end := strings.LastIndexByte(string(raw), ')')
		fields := strings.Fields(string(raw[end+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if c, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			out = append(out, c)
		}
	}
	return out
}
