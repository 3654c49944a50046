package main

// The phases of a run, in order: prepare the database, time start-ups,
// run S1-S5 against one server, then the timing oracle against another.

import (
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
)

// prepare migrates the database, seeds users and disables the oracle's
// disabled users through the CLI, as an operator would. The caller closes
// the returned pool.
func prepare(b *bench, cost int) (*sqlx.DB, error) {
	if _, err := b.env.run(b.ctx, "", "migrate", "up"); err != nil {
		return nil, err
	}
	db, err := openDB(b.ctx, b.svc.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := b.seed(db, cost); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (b *bench) seed(db *sqlx.DB, cost int) error {
	b.store = postgres.NewStore(db)
	b.logf("seeding %d users (bcrypt cost %d) and %d oracle users (cost %d)", b.users, cost, 2*oracleUsers, oracleCost)
	if err := seed(b.ctx, b.store, b.sec, b.users, cost); err != nil {
		return err
	}
	for i := range oracleUsers {
		if _, err := b.env.run(b.ctx, "", "users", "disable", "--email", oracleDisabledEmail(i)); err != nil {
			return err
		}
	}
	var err error
	if b.hasher, err = password.NewHasher([]byte(b.sec.pepper), cost); err != nil {
		return err
	}
	// The seeded hash, read back, so the baseline checks exactly what
	// logins check.
	u, err := b.store.UserByEmail(b.ctx, "default", benchEmail(0))
	b.hash = u.PasswordHash
	return err
}

// measureStartup starts the server once to create the signing keys (a
// first start's extra work), then times starts on the migrated, keyed
// database. The last start stays up as the server under test.
func (b *bench) measureStartup(logPath string) error {
	first, err := startServer(b.ctx, b.env, nil, logPath)
	if err != nil {
		return err
	}
	firstReady := first.ready
	first.stop()
	var ready []float64
	for range b.plan.startups {
		s, err := startServer(b.ctx, b.env, nil, logPath)
		if err != nil {
			return err
		}
		ready = append(ready, msOf(s.ready))
		if len(ready) < b.plan.startups {
			s.stop()
			continue
		}
		b.srv = s
	}
	b.logf("server ready in %v ms (first start, which creates the keys: %.0f ms)", ready, msOf(firstReady))
	b.add(figure{Scenario: "startup", Name: "start to /readyz 200, migrated database", Unit: "ms", Value: newStat(ready), Target: valueAtMost(500),
		Note: fmt.Sprintf("the very first start, which also creates the signing keys, took %.0f ms", msOf(firstReady))})
	// Let start-up garbage be collected before calling the process idle.
	time.Sleep(time.Second)
	idle := b.srv.memory()
	b.add(figure{Scenario: "memory", Name: "idle RSS after start", Unit: "MB", Value: newStat([]float64{mb(idle.RSS)}), Target: valueAtMost(25)})
	return nil
}

// scenarios runs S1 to S5 on the server under test, then records its peak
// RSS and stops it.
func (b *bench) scenarios() error {
	defer b.srv.stop()
	steps := []struct {
		key, name string
		fn        func() error
	}{
		{"s1", "S1 login", func() error { b.s1(); return nil }},
		{"s2", "S2 isolation", b.s2},
		{"s3", "S3 refresh", b.s3},
		{"s4", "S4 /me, S5 JWKS and discovery", b.s4s5},
		{"s6", "S6 OpenID Connect code flow", b.s6},
		{"s7", "S7 hosted sign-in page", b.s7},
		{"verify", "package verify: throughput and unknown-kid refetches", b.verifyScenario},
	}
	for _, s := range steps {
		if !b.selected(s.key) {
			continue
		}
		b.logf("%s", s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
	peak := b.srv.memory()
	b.add(figure{Scenario: "memory", Name: "peak RSS (VmHWM) through the scenarios", Unit: "MB", Value: newStat([]float64{mb(peak.HWM)}), Target: valueAtMost(40)})
	return nil
}

// runOracle measures A6 on a second server, at bcrypt cost 4, on the same
// database.
func (b *bench) runOracle(logPath string) error {
	if !b.selected("oracle") {
		return nil
	}
	b.logf("A6 timing oracle, %d failed logins per class at bcrypt cost %d", b.plan.oraclePerClass, oracleCost)
	s, err := startServer(b.ctx, b.env, map[string]string{"IDP_SECURITY_BCRYPT_COST": strconv.Itoa(oracleCost)}, logPath)
	if err != nil {
		return err
	}
	defer s.stop()
	b.srv = s
	b.oracle()
	return b.ctx.Err()
}
