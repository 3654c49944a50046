package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestLog is a RequestObserver that writes down what it is told.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) ObserveRequest(route, method string, status int, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if elapsed <= 0 {
		status = -status // an elapsed time of 0 is a bug the test should see
	}
	l.seen = append(l.seen, fmt.Sprintf("%s %s %d", route, method, status))
}

// TestRequestObserver: each request is told once with the route pattern
// that served it, never its raw path; unknown paths and methods fold into
// one label each, so no scanner or crafted path can add series.
func TestRequestObserver(t *testing.T) {
	obs := &requestLog{}
	s, _ := newBareServer(t, Options{Requests: obs})
	s.mux.Handle("POST /boom", s.handle(func(w http.ResponseWriter, r *http.Request) error { panic("kaboom") }))
	s.mux.Handle("GET /items/{id}", s.handle(func(w http.ResponseWriter, r *http.Request) error { return nil }))
	for _, tt := range []struct {
		method, path, body string
		want               string
	}{
		{"GET", "/healthz", "", "/healthz GET 200"},
		{"HEAD", "/healthz", "", "/healthz HEAD 200"},
		{"GET", "/items/ann@example.com", "", "/items/{id} GET 200"},
		{"GET", "/ann@example.com/s3cret-token", "", "unmatched GET 404"},
		{"DELETE", "/healthz", "", "unmatched DELETE 405"},
		{"BREW", "/healthz", "", "unmatched other 405"},
		{"POST", "/boom", "", "/boom POST 500"},
		{"POST", "/api/v1/auth/token", strings.Repeat("x", maxBodyBytes+1), "/api/v1/auth/token POST 413"},
	} {
		obs.seen = nil
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		serve(s.Handler(), r)
		if want := []string{tt.want}; !slices.Equal(obs.seen, want) {
			t.Errorf("%s %s: observed %q, want %q", tt.method, tt.path, obs.seen, want)
		}
	}
}
