package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/idp-dev/idp/internal/testenv"
)

// scrape fetches /metrics and returns the body and its samples by series
// ("name{labels}" as the text format writes it).
func scrape(t *testing.T, url string) (string, map[string]float64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return string(body), samples
}

// TestServeMetrics: with metrics.addr set, idp serve answers GET /metrics
// there (and only there); a login, a failed login, a refresh and its
// replay move their counters; the exposition passes promlint; no email,
// password or token appears in it, and paths the server doesn't know
// share one route label.
func TestServeMetrics(t *testing.T) {
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	const email = "metrics-mona@example.com"
	e.createUser(email)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s := e.serve(map[string]string{"IDP_METRICS_ADDR": metricsAddr})
	metricsURL := "http://" + metricsAddr + "/metrics"
	_, before := scrape(t, metricsURL)

	tok, code := login(t, s.URL, email, userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	if _, code := login(t, s.URL, email, "wrong "+userPassword); code != 400 {
		t.Fatalf("failed login = %d", code)
	}
	var rotated tokens
	for i, want := range []int{200, 200} { // the rotation, then its replay in the grace window
		if resp := call(t, "POST", s.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, &rotated); resp.StatusCode != want {
			t.Fatalf("refresh %d = %d", i, resp.StatusCode)
		}
	}
	call(t, "GET", s.URL+"/api/v1/auth/me", rotated.AccessToken, nil, nil)
	call(t, "GET", s.URL+"/api/v1/users/"+email+"/"+strings.ReplaceAll(userPassword, " ", "%20"), "", nil, nil)
	if resp := call(t, "GET", s.URL+"/metrics", "", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("GET /metrics on http.addr = %d, want 404: metrics have a listener of their own", resp.StatusCode)
	}

	body, after := scrape(t, metricsURL)
	moved := func(series string, by float64) {
		t.Helper()
		if got := after[series] - before[series]; got != by {
			t.Errorf("%s moved by %v, want %v", series, got, by)
		}
	}
	moved(`idp_logins_total{outcome="success",reason=""}`, 1)
	moved(`idp_logins_total{outcome="failure",reason="bad_password"}`, 1)
	moved(`idp_refreshes_total{outcome="rotated",reason=""}`, 1)
	moved(`idp_refreshes_total{outcome="replayed",reason=""}`, 1)
	moved(`idp_http_requests_total{code="200",method="POST",route="/api/v1/auth/token"}`, 1)
	moved(`idp_http_requests_total{code="400",method="POST",route="/api/v1/auth/token"}`, 1)
	moved(`idp_http_requests_total{code="200",method="POST",route="/api/v1/auth/refresh"}`, 2)
	moved(`idp_http_requests_total{code="200",method="GET",route="/api/v1/auth/me"}`, 1)
	moved(`idp_http_requests_total{code="404",method="GET",route="unmatched"}`, 2)
	moved(`idp_hash_slot_wait_seconds_count`, 2)
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes", `go_sql_open_connections{db_name="idp"}`,
		"idp_signing_key_active_age_seconds", "idp_signing_keys_published", "idp_hash_slots", `idp_redis_pool_connections{state="idle"}`,
		`idp_janitor_runs_total{outcome="done"}`} {
		if _, ok := after[series]; !ok {
			t.Errorf("no %s in the exposition", series)
		}
	}
	if after["idp_signing_keys_published"] != 4 {
		t.Errorf("idp_signing_keys_published = %v, want 4 (active and next of EdDSA and of RS256)", after["idp_signing_keys_published"])
	}
	for _, secret := range []string{email, "metrics-mona", userPassword, tok.AccessToken, tok.RefreshToken, rotated.RefreshToken, e.vars["IDP_SECURITY_PEPPER"]} {
		if strings.Contains(body, secret) {
			t.Errorf("the exposition holds %q", secret)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for series := range after {
		name, _, _ := strings.Cut(series, "{")
		if !strings.HasPrefix(name, "idp_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") &&
			!strings.HasPrefix(name, "promhttp_") {
			t.Errorf("%s: idp's own metrics carry the idp_ prefix", name)
		}
	}
}

// TestServeMetricsAddressTaken: a metrics.addr that can't be bound ends
// idp serve with an error naming the key.
func TestServeMetricsAddressTaken(t *testing.T) {
	wantListenFailure(t, "metrics.addr", func(taken string) map[string]string {
		return map[string]string{"IDP_METRICS_ADDR": taken, "IDP_HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	})
}
