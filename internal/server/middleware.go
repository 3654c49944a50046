package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idp-dev/idp/internal/core"
)

// maxBodyBytes caps every request body (CONTRACT 3).
const maxBodyBytes = 64 << 10

// errPanic answers a request whose handler panicked; the panic value is
// logged, never shown.
var errPanic = errors.New("handler panicked")

// requestInfo is what the outermost middleware learns about a request; the
// handlers and the log handler read it from the context.
type requestInfo struct {
	id string
	// idFromClient says id is the client's X-Request-Id.
	idFromClient bool
	clientIP     netip.Addr
	// errCode is the error the response carried, for the access log line.
	errCode string
	// route is the pattern that served the request, set by dispatch.
	route string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// logHandler adds the request id of the context to every record, so lines
// logged deep in core during a request can be tied to its access log line.
type logHandler struct{ slog.Handler }

// NewLogHandler wraps h so that records logged with a request's context
// carry its request_id. Use it for the logger core is built with too.
func NewLogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(logHandler); ok {
		return h
	}
	return logHandler{h}
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}

// statusRecorder remembers the status for the access log and whether the
// header is out, so an error after a partial write is not written twice.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validRequestID accepts ids that are safe to echo and log unescaped.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// observe assigns the request id and client IP, writes the one access log
// line per request, and turns panics into a 500 that still gets logged.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		fromClient := validRequestID(id)
		if !fromClient {
			id = rand.Text()
		}
		info := &requestInfo{id: id, idFromClient: fromClient,
			clientIP: clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.opts.TrustedProxies)}
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The panic value and stack go to the log only; the body
				// is never logged, so a password in it can't leak here.
				s.log.ErrorContext(ctx, "panic serving request",
					"panic", core.Escape(fmt.Sprint(v)), "stack", string(debug.Stack()))
				s.writeError(rec, r, errPanic)
			}
			attrs := []slog.Attr{
				slog.String("method", core.Escape(truncate(r.Method, 16))),
				// The path only: a query string may hold a reset token.
				slog.String("path", core.Escape(truncate(r.URL.Path, 256))),
				slog.Int("status", rec.status),
				slog.Duration("duration", time.Since(start)),
				slog.String("client_ip", addrString(info.clientIP)),
				slog.Int64("bytes", rec.bytes),
			}
			if info.errCode != "" {
				attrs = append(attrs, slog.String("error", info.errCode))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "http request", attrs...)
			if s.opts.Requests != nil {
				s.opts.Requests.ObserveRequest(s.routeOf(r, info), methodLabel(r.Method), rec.status, time.Since(start))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// routeOf is the path of the pattern that served r: dispatch notes it; a
// request refused before dispatch (a body too large) is looked up here.
func (s *Server) routeOf(r *http.Request, info *requestInfo) string {
	pattern := info.route
	if pattern == "" {
		_, pattern = s.mux.Handler(r)
	}
	if pattern == "" {
		return routeUnmatched
	}
	// "POST /api/v1/auth/token": the method goes in a label of its own.
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// routeUnmatched is the route of every request no pattern served: one
// label for every unknown path, so scanners can't multiply series.
const routeUnmatched = "unmatched"

// methodLabel keeps the standard methods and folds anything else into one.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// secure sets the headers every response carries, limits the body and
// bounds the time a request may take. Handlers override Cache-Control
// where a response is meant to be cached (JWKS, discovery).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		if s.hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if r.ContentLength > maxBodyBytes {
			// Refuse before reading a byte; MaxBytesReader below catches
			// bodies that lie about or omit their length.
			s.writeError(w, r, errBodyTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// meta is what core records about the caller in audit rows.
func (s *Server) meta(r *http.Request) core.Meta { return RequestMeta(r) }

// RequestMeta is what core records about the caller of r, for every face
// served behind this server's middleware (request id, client IP from
// trusted proxies, user agent). Values go as they came: core cleans them
// once, on the way into storage.
func RequestMeta(r *http.Request) core.Meta {
	m := core.Meta{UserAgent: r.UserAgent()}
	if info := requestInfoFrom(r.Context()); info != nil {
		m.RequestID, m.RequestIDFromClient, m.ClientIP = info.id, info.idFromClient, info.clientIP
	}
	return m
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// clientIP is the peer's address, or, when the peer is a trusted proxy, the
// right-most X-Forwarded-For entry that is not itself a trusted proxy.
// Entries left of that one were written by the client and prove nothing.
func clientIP(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(remoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	ip := peer
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				entry, list = list, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a := parseAddr(entry)
			if !a.IsValid() {
				// A hop we can't read: the nearest trusted hop is the
				// best we know.
				return ip
			}
			ip = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return ip
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port", dropping zones and
// IPv4-in-IPv6 mapping so one client has one spelling.
func parseAddr(s string) netip.Addr {
	if len(s) > 64 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxAuthorization bounds the Authorization header we look at: the
// verifier refuses tokens over 8 KiB anyway, so a longer header is refused
// before any scanning.
const maxAuthorization = 8<<10 + len("Bearer ")

var errNoBearer = &core.Error{Code: core.EUNAUTHORIZED, Message: "a Bearer access token is required (Authorization: Bearer <token>)"}

// bearerToken extracts the token of an RFC 6750 Authorization header.
func bearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 || len(vals[0]) > maxAuthorization {
		return "", errNoBearer
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errNoBearer
	}
	tok = strings.TrimLeft(tok, " ")
	if !isB64Token(tok) {
		return "", errNoBearer
	}
	return tok, nil
}

// isB64Token checks the b64token syntax of RFC 6750 section 2.1.
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// AuthedHandler is a handler that runs only for an authenticated caller;
// its error is written like any other handler error.
type AuthedHandler func(w http.ResponseWriter, r *http.Request, p core.Principal) error

// authenticated resolves the bearer token to a principal. It does not
// apply Principal.Authorize: /me and the password change must work for a
// seeded admin who still has to change the one-time password, and
// Users.Register checks (and audits) roles itself.
func (s *Server) authenticated(next AuthedHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.principal(r)
		if err != nil {
			return err
		}
		return next(w, r, p)
	}
}

func (s *Server) principal(r *http.Request) (core.Principal, error) {
	tok, err := bearerToken(r)
	if err != nil {
		return core.Principal{}, err
	}
	return s.svc.Auth.Authenticate(r.Context(), tok)
}
