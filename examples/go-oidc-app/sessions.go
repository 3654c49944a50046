package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// session is one signed-in browser: its tokens and what the app shows.
type session struct {
	token   *oauth2.Token
	idToken string // the raw ID token, for id_token_hint at sign-out
	idClaims
	Subject             string `json:"sub"`
	IDTokenAlg          string `json:"id_token_alg"`
	IDTokenIssuedAt     int64  `json:"id_token_iat"`
	UserInfoEmail       string `json:"userinfo_email"`
	Refreshes           int    `json:"refreshes"`
	RefreshTokenRotated bool   `json:"refresh_token_rotated"`
}

// idClaims are the ID token's claims the app uses (scopes profile email).
type idClaims struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
	SessionID     string `json:"sid"`
	AuthTime      int64  `json:"auth_time"`
}

// pending is a sign-in under way, by its state.
type pending struct {
	nonce, verifier string
	expires         time.Time
}

// sessions are kept in memory: this is an example.
type sessions struct {
	mu       sync.Mutex
	signedIn map[string]*session
	pending  map[string]pending
}

func newSessions() *sessions {
	return &sessions{signedIn: map[string]*session{}, pending: map[string]pending{}}
}

func (s *sessions) begin(state string, p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.expires = time.Now().Add(10 * time.Minute)
	s.pending[state] = p
}

// finish takes a pending sign-in: a state works once.
func (s *sessions) finish(state string) (pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	return p, ok && time.Now().Before(p.expires)
}

func (s *sessions) start(sess *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := rand.Text()
	s.signedIn[id] = sess
	return id
}

func (a *app) current(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	a.sessions.mu.Lock()
	defer a.sessions.mu.Unlock()
	return a.sessions.signedIn[c.Value]
}

func (s *sessions) replace(r *http.Request, sess *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.signedIn[c.Value]; ok {
			s.signedIn[c.Value] = sess
		}
	}
}

func (s *sessions) end(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.signedIn[c.Value]
	delete(s.signedIn, c.Value)
	return sess
}

// jwtAlg reads the alg of a JWT's header, to show which algorithm the
// verifier accepted.
func jwtAlg(raw string) string {
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Alg string }
	if err != nil || json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}
