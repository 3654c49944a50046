package pgscale

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/postgres"
)

// The plans are the ones PostgreSQL really executes for the store's own
// statements, prepared as the server prepares them: auto_explain (loaded
// per session, so it needs a superuser) sends each executed plan to the
// client as a NOTICE, and the recorder keeps them. No SQL is copied here,
// so a changed query is checked as it is.

// Scan is one node of a plan that reads a relation.
type Scan struct {
	Node     string `json:"node"`     // "Seq Scan", "Index Scan", ...
	Relation string `json:"relation"` // table or partition
	Index    string `json:"index,omitempty"`
}

// Plan is one executed statement.
type Plan struct {
	Query string `json:"query"`
	Scans []Scan `json:"scans"`
}

// Recorder collects plans from a capturing pool.
type Recorder struct {
	mu    sync.Mutex
	plans []Plan
	errs  []error
}

func (r *Recorder) notice(n *pq.Error) {
	_, js, ok := strings.Cut(n.Message, "plan:")
	if !ok {
		return
	}
	var doc struct {
		Query string          `json:"Query Text"`
		Plan  json.RawMessage `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &doc); err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, fmt.Errorf("auto_explain notice: %w", err))
		r.mu.Unlock()
		return
	}
	var scans []Scan
	walk(doc.Plan, &scans)
	r.mu.Lock()
	r.plans = append(r.plans, Plan{Query: doc.Query, Scans: scans})
	r.mu.Unlock()
}

func walk(raw json.RawMessage, out *[]Scan) {
	var n struct {
		Node     string            `json:"Node Type"`
		Relation string            `json:"Relation Name"`
		Index    string            `json:"Index Name"`
		Plans    []json.RawMessage `json:"Plans"`
	}
	if json.Unmarshal(raw, &n) != nil {
		return
	}
	if n.Relation != "" || n.Index != "" {
		*out = append(*out, Scan{Node: n.Node, Relation: n.Relation, Index: n.Index})
	}
	for _, p := range n.Plans {
		walk(p, out)
	}
}

// take returns and forgets what was recorded.
func (r *Recorder) take() ([]Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, errs := r.plans, r.errs
	r.plans, r.errs = nil, nil
	return p, errors.Join(errs...)
}

// OpenCapture opens a small pool on dbURL whose every session runs
// auto_explain for every statement and sends the plans to rec.
func OpenCapture(dbURL string) (*sqlx.DB, *Recorder, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, nil, err
	}
	q := u.Query()
	// Run-time parameters sent at connection start (lib/pq passes on what
	// it doesn't know).
	q.Set("session_preload_libraries", "auto_explain")
	q.Set("auto_explain.log_min_duration", "0")
	q.Set("auto_explain.log_level", "notice")
	q.Set("auto_explain.log_format", "json")
	u.RawQuery = q.Encode()
	c, err := pq.NewConnector(u.String())
	if err != nil {
		return nil, nil, err
	}
	rec := &Recorder{}
	db := sqlx.NewDb(sql.OpenDB(pq.ConnectorWithNoticeHandler(c, rec.notice)), "postgres")
	db.SetMaxOpenConns(4)
	return db, rec, nil
}

// Check is one hot operation, the plans it ran and whether they are all
// index scans using the indexes it should.
type Check struct {
	Name  string   `json:"name"`
	Plans []Plan   `json:"plans"`
	Want  []string `json:"want_indexes"` // patterns, each must match a used index
	// Problems is empty when the check passed.
	Problems []string `json:"problems,omitempty"`
}

// op is one hot store call. It runs against the store of the capturing
// pool; calls that write run in a transaction that is rolled back, so the
// probe stays the same.
type op struct {
	name string
	want []string
	run  func(ctx context.Context, s *postgres.Store, p Probe) error
}

// tinyPages is the size (8 KB pages) up to which a sequential scan is the
// right plan: one read of 64 KB beats index descents plus heap fetches.
const tinyPages = 8

// checkBatch is the janitor's batch size in the checks: as small beside a
// test set of thousands of rows as the real 500 is beside millions, so the
// plan is the one production gets (on a small table, deleting a tenth of
// it by hash join is rightly cheaper than by index).
const checkBatch = 20

var errRollback = errors.New("roll back")

func rolledBack(ctx context.Context, s *postgres.Store, fn func(tx core.Tx) error) error {
	err := s.InTx(ctx, func(tx core.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

var ops = []op{
	{"login: user by email", []string{"^users_tenant_email_key$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.UserByEmail(ctx, p.TenantSlug, p.Email)
		return err
	}},
	{"login: record success", []string{"^users_pkey$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		return rolledBack(ctx, s, func(tx core.Tx) error { return tx.RecordLogin(ctx, p.UserID, time.Now(), "") })
	}},
	{"login: record lock", []string{"^users_pkey$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		return rolledBack(ctx, s, func(tx core.Tx) error { return tx.SetUserLock(ctx, p.UserID, nil, 0) })
	}},
	{"/me: user by session", []string{"^sessions_pkey$", "^users_pkey$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, _, err := s.UserBySession(ctx, p.SessionID)
		return err
	}},
	{"refresh: spend and rotate", []string{"^refresh_tokens_token_hash_key$", "^sessions_pkey$", "^users_pkey$", "^refresh_tokens_pkey$"},
		func(ctx context.Context, s *postgres.Store, p Probe) error {
			return rolledBack(ctx, s, func(tx core.Tx) error {
				rt, sess, u, err := tx.SpendRefreshToken(ctx, p.TokenHash, time.Now())
				if err != nil {
					return err
				}
				now := time.Now()
				child := &core.RefreshToken{SessionID: sess.ID, ParentID: &rt.ID, Hash: TokenHash(-1), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				uid, tid, sid := u.ID, u.TenantID, sess.ID
				return tx.StoreRotation(ctx, child, []byte("replay"), now, now.Add(time.Hour), &core.AuditEvent{
					Event: core.EventRefresh, Outcome: core.OutcomeSuccess, SubjectID: &uid, TenantID: &tid, SessionID: &sid})
			})
		}},
	{"refresh: replay lookup", []string{"^refresh_tokens_token_hash_key$", "^sessions_pkey$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, _, err := s.RefreshTokenByHash(ctx, p.TokenHash)
		return err
	}},
	{"revoke: user's sessions", []string{"^sessions_user_live_idx$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		return rolledBack(ctx, s, func(tx core.Tx) error {
			_, err := tx.RevokeUserSessions(ctx, p.UserID, nil, "test", time.Now())
			return err
		})
	}},
	{"reset: use token", []string{"^password_reset_tokens_token_hash_key$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.UseResetToken(ctx, TokenHash(-2), time.Now())
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil
		}
		return err
	}},
	{"audit: list by email", []string{"_lower_occurred_at_idx$|^user_login_events_email_idx$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.ListAuditEvents(ctx, core.AuditFilter{Email: p.Email, Limit: 50})
		return err
	}},
	{"audit: list by tenant", []string{"_tenant_id_occurred_at_idx$|^user_login_events_tenant_idx$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.ListAuditEvents(ctx, core.AuditFilter{TenantID: &p.TenantID, Limit: 50})
		return err
	}},
	{"audit: list newest", []string{"[^r]_occurred_at_idx$|^user_login_events_time_idx$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.ListAuditEvents(ctx, core.AuditFilter{Since: time.Now().Add(-24 * time.Hour), Limit: 50})
		return err
	}},
	{"janitor: count sessions", []string{"^sessions_expires_idx$", "^sessions_revoked_idx$", "^refresh_tokens_session_idx$"},
		func(ctx context.Context, s *postgres.Store, p Probe) error {
			_, err := s.CountPrunable(ctx, core.PruneSessions, time.Now().Add(-720*time.Hour))
			return err
		}},
	{"janitor: prune sessions", []string{"^sessions_expires_idx$", "^sessions_revoked_idx$", "^refresh_tokens_session_idx$"},
		func(ctx context.Context, s *postgres.Store, p Probe) error {
			_, err := s.PruneBatch(ctx, core.PruneSessions, time.Now().Add(-720*time.Hour), checkBatch)
			return err
		}},
	{"janitor: prune reset tokens", []string{"^password_reset_tokens_expires_idx$"}, func(ctx context.Context, s *postgres.Store, p Probe) error {
		_, err := s.PruneBatch(ctx, core.PruneResetTokens, time.Now(), checkBatch)
		return err
	}},
}

// RunChecks runs every hot operation on the capturing pool and judges its
// plans: no sequential scan of any table bigger than tinyPages (for which
// reading them is the cheapest plan: tenants of a test set, the empty
// partitions of months ahead), and every wanted index used. Each operation
// runs twice, so the second run uses the prepared statement, as a busy
// server does.
func RunChecks(ctx context.Context, db *sqlx.DB, rec *Recorder, p Probe) ([]Check, error) {
	var seqOK []string
	if err := db.SelectContext(ctx, &seqOK, `SELECT relname FROM pg_class WHERE relkind = 'r' AND relpages <= $1`, tinyPages); err != nil {
		return nil, fmt.Errorf("small tables: %w", err)
	}
	if _, err := rec.take(); err != nil {
		return nil, err
	}
	store := postgres.NewStore(db)
	var out []Check
	for _, o := range ops {
		for range 2 {
			if err := o.run(ctx, store, p); err != nil {
				return nil, fmt.Errorf("%s: %w", o.name, err)
			}
		}
		plans, err := rec.take()
		if err != nil {
			return nil, err
		}
		c := Check{Name: o.name, Plans: plans, Want: o.want}
		c.judge(seqOK)
		out = append(out, c)
	}
	return out, nil
}

// Statements the store sends that are not the operation's own (transaction
// control) carry no plan; a plan-less operation is a problem.
func (c *Check) judge(seqOK []string) {
	if len(c.Plans) == 0 {
		c.Problems = append(c.Problems, "no plan was recorded (is auto_explain available?)")
		return
	}
	used := map[string]bool{}
	for _, p := range c.Plans {
		for _, s := range p.Scans {
			if s.Index != "" {
				used[s.Index] = true
			}
			if s.Node == "Seq Scan" && !okSeq(s.Relation, seqOK) {
				c.Problems = append(c.Problems, "sequential scan of "+s.Relation+" in: "+oneLine(p.Query))
			}
		}
	}
	for _, w := range c.Want {
		re := regexp.MustCompile(w)
		found := false
		for idx := range used {
			found = found || re.MatchString(idx)
		}
		if !found {
			c.Problems = append(c.Problems, fmt.Sprintf("no index matching %s used (used: %v)", w, keys(used)))
		}
	}
}

func okSeq(rel string, ok []string) bool {
	for _, o := range ok {
		if rel == o {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
