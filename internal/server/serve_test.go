package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/server"
)

// slowReady makes /readyz a request that stays in flight until released:
// a real route, so the drain is tested without a test-only endpoint.
func slowReady() (ready func(context.Context) error, started <-chan struct{}, release chan<- struct{}) {
	s, r := make(chan struct{}), make(chan struct{})
	return func(ctx context.Context) error {
		close(s)
		select {
		case <-r:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, s, r
}

func startServe(t *testing.T, opts server.Options, grace time.Duration) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- server.New(opts).Serve(ctx, l, grace) }()
	return l.Addr().String(), cancel, errc
}

type result struct {
	status int
	body   string
	err    error
}

func get(url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

func TestServeDrainsInFlight(t *testing.T) {
	ready, started, release := slowReady()
	addr, cancel, done := startServe(t, server.Options{Ready: ready}, 5*time.Second)

	inflight := get("http://" + addr + "/readyz")
	<-started
	cancel()

	// Once shutdown has begun, new connections are refused while the
	// in-flight request is still running.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after ctx ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}

	close(release)
	r := <-inflight
	if r.err != nil || r.status != http.StatusOK || r.body != "{\"status\":\"ready\"}\n" {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestServeGraceExpires(t *testing.T) {
	ready, started, release := slowReady()
	defer close(release)
	addr, cancel, done := startServe(t, server.Options{Ready: ready}, 50*time.Millisecond)

	inflight := get("http://" + addr + "/readyz")
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve = %v, want a drain deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not give up after the grace period")
	}
	<-inflight
}

func TestServeListenerError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	err = server.New(server.Options{}).Serve(context.Background(), l, time.Second)
	if err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

// TestServeLimits checks the http.Server settings through Serve: a
// 60 KiB bearer header reaches the handler (a quick 401); a 1 MB one is
// over the 64 KiB header limit and gets a quick 431 (SECURITY 18).
func TestServeLimits(t *testing.T) {
	addr, cancel, done := startServe(t, server.Options{}, time.Second)
	for size, want := range map[int]int{60 << 10: http.StatusUnauthorized, 1 << 20: http.StatusRequestHeaderFieldsTooLarge} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", size))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d KiB bearer: status %d, want %d", size>>10, resp.StatusCode, want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%d KiB bearer took %s", size>>10, d)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
