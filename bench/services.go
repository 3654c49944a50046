package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// services are the throwaway PostgreSQL and Redis of one bench run, started
// and stopped with scripts/services.sh like `make test` does.
type services struct {
	script      string
	dir         string
	DatabaseURL string
	RedisURL    string
}

// startServices starts PostgreSQL and Redis in dir. The returned services
// is never nil: call stop even when err is set, since a start that failed
// half-way may have left a server running.
func startServices(ctx context.Context, root, dir string) (*services, error) {
	s := &services{script: filepath.Join(root, "scripts", "services.sh"), dir: dir}
	cmd := exec.CommandContext(ctx, s.script, "start", dir)
	cmd.Stderr = os.Stderr
	detach(cmd)
	if _, err := cmd.Output(); err != nil {
		return s, fmt.Errorf("scripts/services.sh start: %w", err)
	}
	env, err := readEnvFile(filepath.Join(dir, "env"))
	if err != nil {
		return s, err
	}
	s.DatabaseURL, s.RedisURL = env["IDP_DATABASE_URL"], env["IDP_REDIS_URL"]
	if s.DatabaseURL == "" || s.RedisURL == "" {
		return s, errors.New("scripts/services.sh wrote no IDP_DATABASE_URL or IDP_REDIS_URL")
	}
	return s, nil
}

// stop runs on the way out, also after Ctrl-C, so it takes no context.
func (s *services) stop() {
	cmd := exec.Command(s.script, "stop", s.dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	detach(cmd)
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: scripts/services.sh stop %s: %v\n", s.dir, err)
	}
}

// cpu is the CPU time PostgreSQL (postmaster and backends) and Redis have
// used so far; zero when their pids can't be read.
func (s *services) cpu() time.Duration {
	var total time.Duration
	if pid := s.postmasterPID(); pid > 0 {
		total += treeCPU(pid)
	}
	if pid := readPIDFile(filepath.Join(s.dir, "redis.pid")); pid > 0 {
		if c, err := processCPU(pid); err == nil {
			total += c
		}
	}
	return total
}

// postmasterPID is the first line of postmaster.pid in the data directory,
// whose path services.sh records in DIR/pgdata.
func (s *services) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(s.dir, "pgdata"))
	if err != nil {
		return 0
	}
	return readPIDFile(filepath.Join(strings.TrimSpace(string(b)), "postmaster.pid"))
}

func readPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// detach puts a child in its own process group: Ctrl-C in the terminal
// then reaches only the bench, which stops its children itself, in order.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// idpEnv is the environment of every idp process of a run.
type idpEnv struct {
	bin  string
	dir  string // working directory: holds no config/idp.yaml
	vars map[string]string
}

// environ is the parent's environment without any IDP_* setting, plus
// ours, so a developer's exported settings can't leak into the run.
func (e idpEnv) environ(extra map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDP_") {
			out = append(out, kv)
		}
	}
	for k, v := range e.vars {
		if _, ok := extra[k]; !ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs an admin command and returns its stdout.
func (e idpEnv) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = e.environ(nil)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	detach(cmd)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("idp %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// server is one `idp serve` process.
type server struct {
	cmd   *exec.Cmd
	pid   int
	base  string // http://127.0.0.1:port
	done  chan struct{}
	err   error // of Wait, valid once done is closed
	ready time.Duration
}

// startServer starts `idp serve` on a free port with extra settings and
// waits until /readyz answers 200; ready is the time that took, counted
// from just before the process was started.
func startServer(ctx context.Context, e idpEnv, extra map[string]string, logPath string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	vars := map[string]string{"IDP_HTTP_ADDR": addr, "IDP_ISSUER": "http://" + addr}
	for k, v := range extra {
		vars[k] = v
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(e.bin, "serve")
	cmd.Dir = e.dir
	cmd.Env = e.environ(vars)
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	s := &server{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start idp serve: %w", err)
	}
	s.pid = cmd.Process.Pid
	go func() { s.err = cmd.Wait(); close(s.done) }()

	// Poll every 2 ms: the figure is compared with 0.5 s, so the polling
	// step must be much smaller than that.
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("idp serve exited before it was ready (%v); its log ends:\n%s", s.err, logTail(logPath))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Since(start) > 30*time.Second {
			s.stop()
			return nil, fmt.Errorf("idp serve not ready after 30 s; its log ends:\n%s", logTail(logPath))
		}
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(start)
				return s, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// logTail is the end of the server log, for errors: the log itself goes
// with the run's temporary directory.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// stop asks for a graceful shutdown and kills the process if it takes
// more than 10 s. Safe to call twice.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) cpu() time.Duration {
	c, _ := processCPU(s.pid)
	return c
}

func (s *server) memory() memory {
	m, _ := processMemory(s.pid)
	return m
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before idp binds it; on this machine that is unlikely enough.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
