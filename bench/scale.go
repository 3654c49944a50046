package main

// `make bench-scale` (bench -scale): the login, refresh and /me scenarios on
// the small bench data set, then again after a million users across a
// thousand tenants, three million sessions and ten million refresh tokens
// were added with COPY. Each p99 of the large run stands beside the same
// p99 of the small one (target: within 1.5x), every hot query's executed
// plan is checked for index scans, and the database size is reported per
// million users.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/pgscale"
)

// scaleSizes is the data set of issue 13 for a number of users: 1,000
// users per tenant, 3 sessions and 10 refresh tokens per user, one audit
// row per user and a reset token per 100 users.
func scaleSizes(users int, hash string, replay []byte) pgscale.Sizes {
	return pgscale.Sizes{
		Tenants: max(1, users/1000), Users: users, Sessions: 3 * users, Tokens: 10 * users,
		AuditRows: users, ResetTokens: max(1, users/100), PasswordHash: hash, Replay: replay, Seed: 13,
	}
}

// scalePlan is the full (or quick) plan's durations with one concurrency
// level per scenario: two full passes take about five minutes.
func scalePlan(quick bool) plan {
	p := fullPlan
	if quick {
		p = quickPlan
	}
	p = p.withDefaults()
	p.s1Concurrency = []int{8}
	p.s3Concurrency = []int{8}
	p.floodConcurrency = 8
	return p
}

// scaleRun runs the two passes around the generation. The server under
// test (b.srv) is running; it is restarted on the large data so its
// connections prepare their statements afresh.
func (b *bench) scaleRun(db *sqlx.DB, scaleUsers int, janitor bool, logPath string) error {
	if err := b.scalePass("small data"); err != nil {
		return err
	}
	small := b.figs
	b.figs = nil
	before, err := dbSize(b.ctx, db)
	if err != nil {
		return err
	}

	replay, err := replayRecord()
	if err != nil {
		return err
	}
	sizes := scaleSizes(scaleUsers, b.hash, replay)
	b.logf("generating %d tenants, %d users, %d sessions, %d refresh tokens, %d audit rows with COPY",
		sizes.Tenants, sizes.Users, sizes.Sessions, sizes.Tokens, sizes.AuditRows)
	start := time.Now()
	gen, err := pgscale.Generate(b.ctx, db, sizes, func(s string) { b.logf("%s", s) })
	if err != nil {
		return err
	}
	took := time.Since(start)
	after, err := dbSize(b.ctx, db)
	if err != nil {
		return err
	}
	b.addScaleData(sizes, gen, took, before, after)
	if err := b.planChecks(); err != nil {
		return err
	}

	// The large pass measures the data as generated, with the janitor
	// off: otherwise its first run, deleting the third of the sessions
	// that ended long ago, would share the machine with the scenarios.
	// That catch-up is measured on its own afterwards (-scale-janitor:
	// beside the scenarios instead, as when a deployment turns it on).
	b.srv.stop()
	extra := map[string]string{"IDP_MAINTENANCE_INTERVAL": "0"}
	if janitor {
		extra = nil
	}
	if b.srv, err = startServer(b.ctx, b.env, extra, logPath); err != nil {
		return err
	}
	if err := b.scalePass("large data"); err != nil {
		return err
	}
	large := b.figs
	b.figs = nil
	b.compareP99s(small, large, scaleUsers)
	if err := b.janitorCatchUp(scaleUsers); err != nil {
		return err
	}
	for _, f := range small {
		f.Scenario = "small data: " + f.Scenario
		b.figs = append(b.figs, f)
	}
	for _, f := range large {
		f.Scenario = "large data: " + f.Scenario
		b.figs = append(b.figs, f)
	}
	return nil
}

func (b *bench) scalePass(name string) error {
	b.logf("%s: S1 login, S3 refresh, S4 /me", name)
	b.s1()
	if err := b.s3(); err != nil {
		return fmt.Errorf("%s S3: %w", name, err)
	}
	if err := b.s4s5(); err != nil {
		return fmt.Errorf("%s S4: %w", name, err)
	}
	return b.ctx.Err()
}

// scaleCompared are the figures the issue compares: the p99 of each hot
// operation.
var scaleCompared = []string{"login p99 latency (200+400)", "refresh p99 latency", "/me p99 latency"}

// compareP99s pairs each p99 of the large pass with the small pass's.
func (b *bench) compareP99s(small, large []figure, users int) {
	find := func(figs []figure, f figure) (figure, bool) {
		for _, g := range figs {
			if g.Scenario == f.Scenario && g.Name == f.Name {
				return g, true
			}
		}
		return figure{}, false
	}
	for _, l := range large {
		if !slices.Contains(scaleCompared, l.Name) {
			continue
		}
		s, ok := find(small, l)
		if !ok {
			continue
		}
		b.add(withBaseline(figure{Scenario: "scale " + l.Scenario, Name: fmt.Sprintf("%s with %s users", l.Name, thousands(users)),
			Unit: l.Unit, Target: ratioAtMost(1.5)}, "ms on the small data set", l.Value.Runs, s.Value.Runs))
	}
}

func (b *bench) addScaleData(s pgscale.Sizes, gen pgscale.Generated, took time.Duration, before, after sizeReport) {
	b.add(figure{Scenario: "scale data", Name: fmt.Sprintf("generation with COPY (%s users, %s sessions, %s tokens) and VACUUM ANALYZE",
		thousands(s.Users), thousands(s.Sessions), thousands(s.Tokens)), Unit: "s", Value: newStat([]float64{took.Seconds()}),
		Note: elapsedNote(gen.Elapsed)})
	b.add(figure{Scenario: "scale data", Name: "database size", Unit: "MB", Value: newStat([]float64{mb(after.total)})})
	perMillion := float64(after.total-before.total) / (float64(s.Users) / 1e6)
	b.add(figure{Scenario: "scale data", Name: "database size per million users (3 sessions, 10 refresh tokens, 1 audit row each)",
		Unit: "GB", Value: newStat([]float64{perMillion / (1 << 30)})})
	for _, t := range after.tables {
		b.add(figure{Scenario: "scale data", Name: "table " + t.name + " with its indexes", Unit: "MB", Value: newStat([]float64{mb(t.bytes)})})
	}
}

func elapsedNote(m map[string]time.Duration) string {
	var parts []string
	for _, t := range []string{"tenants", "users", "user_profiles", "password_reset_tokens", "sessions", "refresh_tokens", "user_login_events", "vacuum analyze"} {
		if d, ok := m[t]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f s", t, d.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

// planChecks records the plans of every hot query on the large data and
// adds one yes/no figure per query.
func (b *bench) planChecks() error {
	db, rec, err := pgscale.OpenCapture(b.svc.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	probe, err := pgscale.PickProbe(b.ctx, db)
	if err != nil {
		return err
	}
	checks, err := pgscale.RunChecks(b.ctx, db, rec, probe)
	if err != nil {
		return err
	}
	for _, c := range checks {
		idx := map[string]bool{}
		for _, p := range c.Plans {
			for _, s := range p.Scans {
				if s.Index != "" {
					idx[s.Index] = true
				}
			}
		}
		note := "indexes: " + strings.Join(sortedKeys(idx), ", ")
		if len(c.Problems) > 0 {
			note = strings.Join(c.Problems, "; ")
			b.logf("plan check %s: %s", c.Name, note)
		}
		b.add(figure{Scenario: "scale plans", Name: c.Name + ": index scans only", Unit: "yes/no",
			Value: newStat([]float64{boolNum(len(c.Problems) == 0)}), Target: valueIs(1), Note: note})
	}
	return nil
}

type sizeReport struct {
	total  int64
	tables []tableSize
}

type tableSize struct {
	name  string
	bytes int64
}

func dbSize(ctx context.Context, db *sqlx.DB) (sizeReport, error) {
	var r sizeReport
	if err := db.GetContext(ctx, &r.total, `SELECT pg_database_size(current_database())`); err != nil {
		return r, err
	}
	rows, err := db.QueryContext(ctx, `
		SELECT c.relname, pg_total_relation_size(c.oid) + COALESCE((SELECT sum(pg_total_relation_size(i.inhrelid))
			FROM pg_inherits i WHERE i.inhparent = c.oid), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND c.relname IN ('users', 'user_profiles', 'sessions', 'refresh_tokens', 'user_login_events', 'password_reset_tokens')
		ORDER BY 2 DESC`)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var t tableSize
		if err := rows.Scan(&t.name, &t.bytes); err != nil {
			return r, err
		}
		r.tables = append(r.tables, t)
	}
	return r, rows.Err()
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// scaleOut is where the scale run writes its results, beside the bench's.
func scaleOut(out string) string { return filepath.Join(out, "scale") }

// janitorCatchUp times the janitor's first run on the generated data
// (`idp maintenance prune`, as an operator would start it) and reports
// what it deleted.
func (b *bench) janitorCatchUp(users int) error {
	b.srv.stop()
	start := time.Now()
	out, err := b.env.run(b.ctx, "", "maintenance", "prune", "--output", "json")
	if err != nil {
		return fmt.Errorf("janitor catch-up: %w", err)
	}
	took := time.Since(start)
	var rep struct {
		Deleted []struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows"`
		} `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return fmt.Errorf("janitor catch-up: %w", err)
	}
	var total int64
	for _, d := range rep.Deleted {
		total += d.Rows
		if d.Rows > 0 {
			b.add(figure{Scenario: "scale janitor", Name: "rows of " + d.Table + " deleted by the first run", Unit: "", Value: newStat([]float64{float64(d.Rows)})})
		}
	}
	b.add(figure{Scenario: "scale janitor", Name: fmt.Sprintf("first janitor run on %s users (idp maintenance prune)", thousands(users)), Unit: "s",
		Value: newStat([]float64{took.Seconds()}), Note: fmt.Sprintf("%.0f rows/s, resting between batches as long as each took", float64(total)/took.Seconds())})
	b.logf("janitor catch-up: %d rows in %v", total, took.Round(time.Second))
	return nil
}
