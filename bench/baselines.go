package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/core/token"
)

// opResult is a baseline measured inside the bench process.
type opResult struct {
	rate   float64       // operations per second, all workers together
	cpuPer time.Duration // CPU of this process per operation
	dbPer  time.Duration // PostgreSQL and Redis CPU per operation
	errors int64
	// unattributed is the share of all cores used by anything else, as
	// for load runs.
	unattributed float64
}

// parallel runs fn on workers goroutines for d. The CPU figure is this
// process's, so run nothing else meanwhile.
func parallel(ctx context.Context, svc *services, workers int, d time.Duration, fn func(w int) error) opResult {
	var ops, fails atomic.Int64
	var wg sync.WaitGroup
	self := os.Getpid()
	cpu0, _ := processCPU(self)
	db0, all0 := svc.cpu(), machineCPU()
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := fn(w); err != nil {
					fails.Add(1)
					continue
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := processCPU(self)
	db1 := svc.cpu()
	r := opResult{rate: float64(ops.Load()) / elapsed.Seconds(), errors: fails.Load(),
		unattributed: share(machineCPU()-all0-(cpu1-cpu0)-(db1-db0), elapsed)}
	if n := ops.Load(); n > 0 {
		r.cpuPer = (cpu1 - cpu0) / time.Duration(n)
		r.dbPer = (db1 - db0) / time.Duration(n)
	}
	return r
}

// bcryptBaseline checks the bench password against its hash, as a login
// does (pepper HMAC, then bcrypt), on every core.
func bcryptBaseline(ctx context.Context, svc *services, workers int, d time.Duration, h *password.Hasher, hash, pw string) opResult {
	return parallel(ctx, svc, workers, d, func(int) error {
		if !h.Verify(hash, pw) {
			return errors.New("bcrypt baseline: password does not verify")
		}
		return nil
	})
}

// signer signs and verifies access tokens like the server's, with a key of
// its own.
type signer struct {
	key    token.Key
	claims token.Claims
	token  string
	verify token.Verifier
}

func newSigner() (*signer, error) {
	key, err := token.GenerateKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	s := &signer{key: key, claims: token.Claims{
		Issuer: "http://127.0.0.1:8080", Subject: uuid.NewString(), Audience: "idp", ID: uuid.NewString(),
		SessionID: uuid.NewString(), TenantID: uuid.NewString(), Email: benchEmail(0), Roles: []string{},
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour),
	}}
	s.verify = token.Verifier{
		Issuer: s.claims.Issuer, Audience: s.claims.Audience,
		Lookup: func(kid string) (ed25519.PublicKey, bool) { return key.Public, kid == key.ID },
	}
	s.token, err = token.Sign(key, s.claims)
	return s, err
}

func (s *signer) signRate(ctx context.Context, svc *services, workers int, d time.Duration) opResult {
	return parallel(ctx, svc, workers, d, func(int) error {
		_, err := token.Sign(s.key, s.claims)
		return err
	})
}

func (s *signer) verifyRate(ctx context.Context, svc *services, workers int, d time.Duration) opResult {
	return parallel(ctx, svc, workers, d, func(int) error {
		_, err := s.verify.Verify(s.token)
		return err
	})
}

// rawRotationBaseline rotates conc chains through the store for d.
func rawRotationBaseline(ctx context.Context, svc *services, store *postgres.Store, chains []*rawChain, conc int, d time.Duration, replay []byte) opResult {
	return parallel(ctx, svc, conc, d, func(w int) error {
		return chains[w].rotate(ctx, store, replay)
	})
}
