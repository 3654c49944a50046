package cli_test

import (
	"regexp"
	"strconv"
	"testing"
)

var reTook = regexp.MustCompile(`(done in|changed) \(?[0-9.]+[µnm]?s\)?`)

// TestMaintenancePrune runs `idp maintenance prune` on sessions that ended
// long ago, recently, or not at all: the dry run counts, the real run
// deletes only what is past retention.sessions, and a second run finds
// nothing.
func TestMaintenancePrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	runOK(t, e.env, "", "users", "seed", "--email", "admin@example.com")
	old := newSession(t, e, "default", "admin@example.com")
	sqlExec(t, e.dbURL, `UPDATE sessions SET created_at = now() - interval '70 days',
		expires_at = now() - interval '40 days', idle_expires_at = now() - interval '40 days'
		WHERE id = $1 RETURNING id::text`, old)
	sqlExec(t, e.dbURL, `INSERT INTO refresh_tokens (session_id, token_hash, expires_at, spent_at)
		SELECT $1, sha256(g::text::bytea), now() - interval '40 days', now() - interval '41 days'
		FROM generate_series(1, 3) g RETURNING 'x'`, old)
	revoked := newSession(t, e, "default", "admin@example.com")
	sqlExec(t, e.dbURL, `UPDATE sessions SET revoked_at = now() - interval '31 days' WHERE id = $1 RETURNING id::text`, revoked)
	recent := newSession(t, e, "default", "admin@example.com")
	sqlExec(t, e.dbURL, `UPDATE sessions SET revoked_at = now() - interval '29 days' WHERE id = $1 RETURNING id::text`, recent)
	newSession(t, e, "default", "admin@example.com")

	sessions := func() int {
		n, _ := strconv.Atoi(sqlExec(t, e.dbURL, `SELECT count(*)::text FROM sessions`))
		return n
	}
	golden(t, "maintenance_prune_dry_run", reTook.ReplaceAllString(runOK(t, e.env, "", "maintenance", "prune", "--dry-run"), "$1 <time>"))
	if n := sessions(); n != 4 {
		t.Fatalf("%d sessions after a dry run, want 4", n)
	}

	type report struct {
		DryRun  bool `json:"dry_run"`
		Deleted []struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows"`
		} `json:"deleted"`
		Created []map[string]any `json:"audit_partitions_created"`
		Dropped []map[string]any `json:"audit_partitions_dropped"`
	}
	rep := runJSON[report](t, e.env, "", "maintenance", "prune", "--output", "json")
	got := map[string]int64{}
	for _, d := range rep.Deleted {
		got[d.Table] = d.Rows
	}
	if rep.DryRun || got["sessions"] != 2 || got["refresh_tokens"] != 3 || got["reset_tokens"] != 0 || len(rep.Dropped) != 0 {
		t.Fatalf("prune: %+v", rep)
	}
	if n := sessions(); n != 2 {
		t.Fatalf("%d sessions after prune, want the recent and the live one", n)
	}
	golden(t, "maintenance_prune_again", reTook.ReplaceAllString(runOK(t, e.env, "", "maintenance", "prune"), "$1 <time>"))
	runFail(t, e.env, 2, "", "maintenance", "prune", "extra")
}
