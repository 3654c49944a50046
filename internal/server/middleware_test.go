package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/token"
)

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return body["error"]
}

func TestRequestID(t *testing.T) {
	s, logs := newBareServer(t, Options{})
	for _, tt := range []struct {
		in   string
		keep bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"has space", false},
		{"new\nline", false},
		{`quote"`, false},
	} {
		r := httptest.NewRequest("GET", "/healthz", nil)
		if tt.in != "" {
			r.Header["X-Request-Id"] = []string{tt.in}
		}
		w := serve(s.Handler(), r)
		got := w.Header().Get("X-Request-Id")
		if tt.keep && got != tt.in {
			t.Errorf("id %q replaced by %q", tt.in, got)
		}
		if !tt.keep && (got == tt.in || !validRequestID(got)) {
			t.Errorf("id %q: got %q, want a fresh valid one", tt.in, got)
		}
		if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("request id %q not in the access log", got)
		}
	}
}

func TestAccessLog(t *testing.T) {
	s, logs := newBareServer(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	r := httptest.NewRequest("GET", "/password/reset%0Aforged?token=s3cret", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	r.Header.Set("Authorization", "Bearer topsecret")
	serve(s.Handler(), r)

	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
		t.Fatalf("one JSON line expected: %q", logs)
	}
	if line["msg"] != "http request" || line["method"] != "GET" || line["status"] != float64(404) ||
		line["client_ip"] != "198.51.100.9" || line["error"] != "not_found" || line["request_id"] == "" {
		t.Fatalf("access log %v", line)
	}
	if line["path"] != `/password/reset\nforged` {
		t.Fatalf("path %q: the query must be dropped and control characters escaped", line["path"])
	}
	if _, ok := line["duration"]; !ok {
		t.Fatal("no duration")
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "topsecret") {
		t.Fatalf("secret logged: %s", logs)
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "core")
	if NewLogHandler(log.Handler()) != log.Handler() {
		t.Fatal("wrapping twice adds the id twice")
	}
	s, _ := newBareServer(t, Options{})
	s.mux.Handle("GET /log", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		log.InfoContext(r.Context(), "inside")
		return nil
	}))
	r := httptest.NewRequest("GET", "/log", nil)
	r.Header.Set("X-Request-Id", "rid-1")
	serve(s.Handler(), r)
	if !strings.Contains(buf.String(), `"request_id":"rid-1"`) || !strings.Contains(buf.String(), `"component":"core"`) {
		t.Fatalf("log %s", buf.String())
	}
}

func TestRecoverPanic(t *testing.T) {
	s, logs := newBareServer(t, Options{})
	s.mux.Handle("POST /boom", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		panic("kaboom")
	}))
	r := httptest.NewRequest("POST", "/boom", strings.NewReader(`{"password":"hunter2hunter2"}`))
	w := serve(s.Handler(), r)
	if w.Code != 500 || errorCode(t, w) != "server_error" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "kaboom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("panic leaked into the body: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("panic not logged: %s", logs)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Fatal("request body logged")
	}
}

func TestRouting(t *testing.T) {
	s, _ := newBareServer(t, Options{})
	w := serve(s.Handler(), httptest.NewRequest("GET", "/nope", nil))
	if w.Code != 404 || errorCode(t, w) != "not_found" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = serve(s.Handler(), httptest.NewRequest("DELETE", "/healthz", nil))
	if w.Code != 405 || errorCode(t, w) != "method_not_allowed" || !strings.Contains(w.Header().Get("Allow"), "GET") {
		t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
	}
	w = serve(s.Handler(), httptest.NewRequest("HEAD", "/healthz", nil))
	if w.Code != 200 {
		t.Fatalf("HEAD /healthz %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, _ := newBareServer(t, Options{Issuer: "https://id.example.com/"})
	w := serve(s.Handler(), httptest.NewRequest("GET", "/healthz", nil))
	for k, v := range map[string]string{
		"X-Content-Type-Options":    "nosniff",
		"Content-Type":              "application/json",
		"Cache-Control":             "no-store",
		"X-Frame-Options":           "DENY",
		"Strict-Transport-Security": "max-age=63072000",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if w.Body.String() != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthz %q", w.Body)
	}
	s, _ = newBareServer(t, Options{Issuer: "http://127.0.0.1:8080"})
	if w := serve(s.Handler(), httptest.NewRequest("GET", "/healthz", nil)); w.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on a plain-http issuer")
	}
}

func TestDiscovery(t *testing.T) {
	s, _ := newBareServer(t, Options{Issuer: "https://id.example.com/", JWKSMaxAge: 90 * time.Second})
	w := serve(s.Handler(), httptest.NewRequest("GET", "/.well-known/openid-configuration", nil))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=90" || w.Header().Get("ETag") == "" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                          "https://id.example.com",
		"jwks_uri":                        "https://id.example.com/.well-known/jwks.json",
		"authorization_endpoint":          "https://id.example.com/oauth2/authorize",
		"token_endpoint":                  "https://id.example.com/oauth2/token",
		"userinfo_endpoint":               "https://id.example.com/oauth2/userinfo",
		"end_session_endpoint":            "https://id.example.com/oauth2/logout",
		"revocation_endpoint":             "https://id.example.com/oauth2/revoke",
		"introspection_endpoint":          "https://id.example.com/oauth2/introspect",
		"request_parameter_supported":     false,
		"request_uri_parameter_supported": false,
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	for k, v := range map[string]string{
		"grant_types_supported":                 "authorization_code,refresh_token",
		"response_types_supported":              "code",
		"code_challenge_methods_supported":      "S256",
		"subject_types_supported":               "public",
		"id_token_signing_alg_values_supported": "EdDSA,RS256",
		"token_endpoint_auth_methods_supported": "client_secret_basic,client_secret_post,none",
		"scopes_supported":                      "openid,profile,email,roles,offline_access",
	} {
		var got []string
		for _, x := range doc[k].([]any) {
			got = append(got, x.(string))
		}
		if strings.Join(got, ",") != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	r := httptest.NewRequest("GET", "/.well-known/openid-configuration", nil)
	r.Header.Set("If-None-Match", `W/"x", `+w.Header().Get("ETag"))
	if w := serve(s.Handler(), r); w.Code != 304 || w.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d %q", w.Code, w.Body)
	}
}

func TestETagMatch(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true}, {`W/"abc"`, true}, {`"x", "abc"`, true}, {`*`, true},
		{``, false}, {`"abcd"`, false}, {`abc`, false},
	} {
		if got := etagMatch(tt.header, `"abc"`); got != tt.want {
			t.Errorf("etagMatch(%q) = %v", tt.header, got)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tt := range []struct {
		headers []string
		want    string
	}{
		{[]string{"Bearer abc.def-_~+/=="}, "abc.def-_~+/=="},
		{[]string{"bearer abc"}, "abc"},
		{[]string{"BEARER   abc"}, "abc"},
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"Bearer"}, ""},
		{[]string{"Bearer "}, ""},
		{[]string{"Bearer ==="}, ""},
		{[]string{"Bearer a=b"}, ""},
		{[]string{"Bearer a b"}, ""},
		{[]string{"Bearer a\tb"}, ""},
		{[]string{"Basic abc"}, ""},
		{[]string{"Bearerabc"}, ""},
		{[]string{"Bearer abc", "Bearer def"}, ""},
		{[]string{"Bearer " + strings.Repeat("a", 9<<10)}, ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = tt.headers
		got, err := bearerToken(r)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", tt.headers, got, err, tt.want)
		}
	}
}

// A missing or malformed bearer token is refused before core is asked,
// which is also what makes a 1 MB header cheap.
func TestBearerRefusedBeforeCore(t *testing.T) {
	s, _ := newBareServer(t, Options{}) // no services: reaching core would panic
	for _, h := range []string{"", "Basic eA==", "Bearer " + strings.Repeat("a", 1<<20)} {
		r := httptest.NewRequest("GET", "/api/v1/auth/me", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		w := serve(s.Handler(), r)
		if w.Code != 401 || errorCode(t, w) != "invalid_token" || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Fatalf("%q: %d %s %v", truncate(h, 20), w.Code, w.Body, w.Header())
		}
	}
}

func TestReadyz(t *testing.T) {
	var deadline time.Duration
	s, _ := newBareServer(t, Options{Ready: func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		return nil
	}})
	w := serve(s.Handler(), httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 200 || w.Body.String() != "{\"status\":\"ready\"}\n" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if deadline <= 0 || deadline > time.Second {
		t.Fatalf("Ready got a deadline %s away, want at most 1s", deadline)
	}
	s, _ = newBareServer(t, Options{})
	if w := serve(s.Handler(), httptest.NewRequest("GET", "/readyz", nil)); w.Code != 200 {
		t.Fatalf("nil Ready: %d", w.Code)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"日本", 4, "日"}, {"日本", 2, ""},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// unusedStore satisfies core.New; JWKS never touches the store.
type unusedStore struct{ core.Store }

// Before the signing keys are loaded JWKS is a 503, not a 500 or an empty set.
func TestJWKSNotLoaded(t *testing.T) {
	hasher, err := password.NewHasher(bytes.Repeat([]byte("p"), 32), 4)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := token.NewSealer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := core.New(core.Config{}, core.Deps{Store: unusedStore{}, Hasher: hasher, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newBareServer(t, Options{Services: svcs})
	w := serve(s.Handler(), httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if w.Code != 503 || errorCode(t, w) != "temporarily_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
	}
}
