// Package pgscale fills an idp database with realistic volumes of users,
// sessions, refresh tokens and audit rows (with COPY, so a million users
// take minutes), and records the plans PostgreSQL runs for the store's hot
// queries, so tests and `make bench-scale` can check that every one is an
// index scan. It is a tool for tests and the bench, never used by idp.
package pgscale

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Sizes says how much to generate. Sessions are spread over users at random
// and tokens over sessions evenly (each session a chain: every token but the
// newest spent, each the parent of the next).
type Sizes struct {
	Tenants   int
	Users     int
	Sessions  int
	Tokens    int
	AuditRows int
	// ResetTokens live and recently expired password reset tokens.
	ResetTokens int
	// PasswordHash is every generated user's hash (bcrypt's cost doesn't
	// depend on the salt, so one hash serves all).
	PasswordHash string
	// Replay is stored on every spent token, as a rotation stores its
	// sealed child pair there; its size matters for the database size.
	Replay []byte
	// Seed makes the data reproducible.
	Seed uint64
}

// Slug, Email: the names of generated tenants and users.
func Slug(i int) string          { return fmt.Sprintf("scale-%04d", i) }
func Email(tenant, i int) string { return fmt.Sprintf("u%07d@t%04d.scale.example", i, tenant) }

// Generated describes what Generate wrote, for picking probe rows.
type Generated struct {
	TenantIDs []uuid.UUID
	// Elapsed per table.
	Elapsed map[string]time.Duration
}

// Generate writes the data in one transaction per table, with COPY. It
// runs as a superuser with session_replication_role = replica, so foreign
// key triggers don't check rows that are consistent by construction;
// indexes are kept and maintained as in production.
func Generate(ctx context.Context, db *sqlx.DB, s Sizes, progress func(string)) (Generated, error) {
	if s.Tenants < 1 || s.Users < s.Tenants || s.Sessions < 1 || s.Tokens < s.Sessions {
		return Generated{}, fmt.Errorf("pgscale: sizes %+v: want tenants >= 1, users >= tenants, tokens >= sessions >= 1", s)
	}
	if progress == nil {
		progress = func(string) {}
	}
	g := &generator{s: s, rng: rand.New(rand.NewPCG(s.Seed, 0x1d9)), now: time.Now().UTC(), out: Generated{Elapsed: map[string]time.Duration{}}}
	steps := []struct {
		table string
		cols  []string
		rows  func(emit func(...any) error) error
	}{
		{"tenants", []string{"id", "slug", "name"}, g.tenants},
		{"users", []string{"id", "tenant_id", "email", "password_hash", "status", "created_at", "updated_at"}, g.users},
		{"user_profiles", []string{"user_id", "display_name"}, g.profiles},
		{"password_reset_tokens", []string{"user_id", "token_hash", "created_at", "expires_at", "used_at"}, g.resets},
		{"sessions", []string{"id", "user_id", "tenant_id", "created_at", "expires_at", "idle_expires_at", "last_used_at",
			"revoked_at", "revoked_reason", "client_ip", "user_agent"}, g.sessions},
		{"refresh_tokens", []string{"id", "session_id", "parent_id", "token_hash", "created_at", "expires_at", "spent_at", "replay"}, g.tokens},
		{"user_login_events", []string{"occurred_at", "event", "outcome", "reason", "subject_id", "subject_email",
			"tenant_id", "tenant_slug", "session_id", "client_ip", "user_agent"}, g.audit},
	}
	if err := g.auditPartitions(ctx, db); err != nil {
		return g.out, err
	}
	for _, st := range steps {
		start := time.Now()
		if err := copyIn(ctx, db, st.table, st.cols, st.rows); err != nil {
			return g.out, fmt.Errorf("generate %s: %w", st.table, err)
		}
		g.out.Elapsed[st.table] = time.Since(start)
		progress(fmt.Sprintf("%s written in %s", st.table, time.Since(start).Round(time.Millisecond)))
	}
	start := time.Now()
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		return g.out, fmt.Errorf("vacuum analyze: %w", err)
	}
	g.out.Elapsed["vacuum analyze"] = time.Since(start)
	progress(fmt.Sprintf("VACUUM ANALYZE in %s", time.Since(start).Round(time.Millisecond)))
	return g.out, nil
}

func copyIn(ctx context.Context, db *sqlx.DB, table string, cols []string, rows func(emit func(...any) error) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		return err
	}
	q := "COPY " + table + " ("
	for i, c := range cols {
		if i > 0 {
			q += ", "
		}
		q += c
	}
	stmt, err := tx.PrepareContext(ctx, q+") FROM STDIN")
	if err != nil {
		return err
	}
	emit := func(v ...any) error {
		_, err := stmt.ExecContext(ctx, v...)
		return err
	}
	if err := rows(emit); err != nil {
		_ = stmt.Close()
		return err
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

type generator struct {
	s        Sizes
	rng      *rand.Rand
	now      time.Time
	out      Generated
	userIDs  []uuid.UUID // by index
	sessInfo []sessionInfo
}

type sessionInfo struct {
	id, user  uuid.UUID
	tenant    int
	created   time.Time
	ended     bool
	tokenBase int
}

// newID is a time-ordered UUID (v7), so the primary keys grow at their end
// as rows arrive, which keeps the load quick. (idp itself uses random v4
// ids; the plans don't depend on the difference.)
func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

func (g *generator) tenantOf(user int) int { return user % g.s.Tenants }

func (g *generator) tenants(emit func(...any) error) error {
	for i := range g.s.Tenants {
		id := newID()
		g.out.TenantIDs = append(g.out.TenantIDs, id)
		if err := emit(id.String(), Slug(i), "Scale tenant "+Slug(i)); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) users(emit func(...any) error) error {
	g.userIDs = make([]uuid.UUID, g.s.Users)
	for i := range g.s.Users {
		id := newID()
		g.userIDs[i] = id
		t := g.tenantOf(i)
		created := g.now.Add(-time.Duration(g.rng.Int64N(int64(400 * 24 * time.Hour))))
		if err := emit(id.String(), g.out.TenantIDs[t].String(), Email(t, i), g.s.PasswordHash, "active", created, created); err != nil {
			return err
		}
	}
	return nil
}

// sessions: created over the last 90 days (so a third reached their
// absolute end more than 30 days ago, as if the janitor were off); of the
// rest 20 % ended idle and 10 % were revoked.
func (g *generator) sessions(emit func(...any) error) error {
	g.sessInfo = make([]sessionInfo, g.s.Sessions)
	perSession := g.s.Tokens / g.s.Sessions
	extra := g.s.Tokens % g.s.Sessions
	base := 0
	for i := range g.s.Sessions {
		u := g.rng.IntN(g.s.Users)
		created := g.now.Add(-time.Duration(g.rng.Int64N(int64(90 * 24 * time.Hour))))
		expires := created.Add(720 * time.Hour)
		idle := minTime(g.now.Add(time.Duration(g.rng.Int64N(int64(168*time.Hour)))), expires)
		var revoked, reason any
		ended := false
		switch roll := g.rng.IntN(10); {
		case roll < 2:
			idle = minTime(created.Add(168*time.Hour), expires)
			if idle.After(g.now) {
				idle = g.now.Add(-time.Minute)
			}
			ended = true
		case roll < 3:
			revoked, reason = created.Add(time.Hour), "logout"
			ended = true
		}
		if !expires.After(g.now) {
			ended = true
		}
		id := newID()
		g.sessInfo[i] = sessionInfo{id: id, user: g.userIDs[u], tenant: g.tenantOf(u), created: created, ended: ended, tokenBase: base}
		n := perSession
		if i < extra {
			n++
		}
		base += n
		if err := emit(id.String(), g.userIDs[u].String(), g.out.TenantIDs[g.tenantOf(u)].String(), created, expires, idle,
			created, revoked, reason, "192.0.2.10", "scale/1.0"); err != nil {
			return err
		}
	}
	return nil
}

// TokenHash is the hash of the n-th generated refresh token, so a probe
// can present a real one.
func TokenHash(n int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h := sha256.Sum256(append([]byte("pgscale token "), b[:]...))
	return h[:]
}

func (g *generator) tokens(emit func(...any) error) error {
	perSession := g.s.Tokens / g.s.Sessions
	extra := g.s.Tokens % g.s.Sessions
	for i, s := range g.sessInfo {
		n := perSession
		if i < extra {
			n++
		}
		var parent any
		at := s.created
		for k := range n {
			id := newID()
			last := k == n-1
			var spent any
			var replay any
			if !last {
				spent = at.Add(15 * time.Minute)
				replay = g.s.Replay
			}
			if err := emit(id.String(), s.id.String(), parent, TokenHash(s.tokenBase+k), at, at.Add(168*time.Hour), spent, replay); err != nil {
				return err
			}
			parent = id.String()
			at = at.Add(15 * time.Minute)
		}
	}
	return nil
}

func (g *generator) profiles(emit func(...any) error) error {
	for i, id := range g.userIDs {
		if err := emit(id.String(), fmt.Sprintf("User %d", i)); err != nil {
			return err
		}
	}
	return nil
}

// resets: a tenth of them expired, a quarter used.
func (g *generator) resets(emit func(...any) error) error {
	for i := range g.s.ResetTokens {
		created := g.now.Add(-time.Duration(g.rng.Int64N(int64(27 * time.Minute))))
		if i%10 == 0 {
			created = created.Add(-time.Hour)
		}
		var used any
		if i%4 == 0 {
			used = created.Add(time.Minute)
		}
		if err := emit(g.userIDs[g.rng.IntN(len(g.userIDs))].String(), TokenHash(-1000-i), created, created.Add(30*time.Minute), used); err != nil {
			return err
		}
	}
	return nil
}

// auditPartitions creates the month partitions the generated audit rows
// fall into (the janitor would have, month by month).
func (g *generator) auditPartitions(ctx context.Context, db *sqlx.DB) error {
	for m := g.now.AddDate(0, 0, -95); m.Before(g.now.AddDate(0, 1, 0)); m = m.AddDate(0, 1, 0) {
		if _, err := db.ExecContext(ctx, `SELECT user_login_events_ensure_partition($1)`, m); err != nil {
			return fmt.Errorf("audit partition for %s: %w", m.Format("2006-01"), err)
		}
	}
	return nil
}

func (g *generator) audit(emit func(...any) error) error {
	for i := range g.s.AuditRows {
		s := g.sessInfo[g.rng.IntN(len(g.sessInfo))]
		at := g.now.Add(-time.Duration(g.rng.Int64N(int64(90 * 24 * time.Hour))))
		if i%4 == 1 {
			// A quarter in the current month, however early in it the
			// run is, so its partition is as realistic as the others.
			month := time.Date(g.now.Year(), g.now.Month(), 1, 0, 0, 0, 0, time.UTC)
			at = month.Add(time.Duration(g.rng.Int64N(int64(g.now.Sub(month)) + 1)))
		}
		event, reason := "refresh", ""
		if i%4 == 0 {
			event = "login_success"
		}
		if err := emit(at, event, "success", reason, s.user.String(), fmt.Sprintf("u@t%04d.scale.example", s.tenant),
			g.out.TenantIDs[s.tenant].String(), Slug(s.tenant), s.id.String(), "192.0.2.10", "scale/1.0"); err != nil {
			return err
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Probe names rows of the generated data that hot queries look up.
type Probe struct {
	TenantSlug string
	Email      string
	UserID     uuid.UUID
	SessionID  uuid.UUID
	TokenHash  []byte // the newest (unspent) token of SessionID
	TenantID   uuid.UUID
}

// PickProbe reads a live session with its user from the database, so the
// probe holds real rows whatever Generate's random choices were.
func PickProbe(ctx context.Context, db *sqlx.DB) (Probe, error) {
	var r struct {
		Slug      string    `db:"slug"`
		Email     string    `db:"email"`
		UserID    uuid.UUID `db:"user_id"`
		SessionID uuid.UUID `db:"session_id"`
		TenantID  uuid.UUID `db:"tenant_id"`
		Hash      []byte    `db:"token_hash"`
	}
	err := db.GetContext(ctx, &r, `
		SELECT t.slug, u.email, u.id AS user_id, s.id AS session_id, t.id AS tenant_id, rt.token_hash
		FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
		JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = u.tenant_id
		WHERE rt.spent_at IS NULL AND rt.parent_id IS NOT NULL AND s.revoked_at IS NULL
		  AND s.expires_at > now() AND s.idle_expires_at > now()
		LIMIT 1`)
	if err == sql.ErrNoRows {
		return Probe{}, fmt.Errorf("pgscale: no live session with a refresh chain found")
	}
	if err != nil {
		return Probe{}, err
	}
	return Probe{TenantSlug: r.Slug, Email: r.Email, UserID: r.UserID, SessionID: r.SessionID, TokenHash: r.Hash, TenantID: r.TenantID}, nil
}
