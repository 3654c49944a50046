package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/core/token"
)

// serverPoolSize is the pool `idp serve` opens (internal/cli/app.go); the
// raw rotation baseline uses the same, through the same driver.
const serverPoolSize = 20

// Oracle users: their hashes are made at the cost of the server that
// measures timing, but for the "cheaper hash" class, hashed at cheapCost
// as if made before security.bcrypt_cost was raised: its failures must be
// padded to the configured cost (issue 9, finding 8).
const (
	oracleUsers = 10
	oracleCost  = 6
	cheapCost   = 4
)

// secrets are generated per run; the seeded hashes use the same pepper as
// the servers, or no login would succeed.
type secrets struct {
	pepper   string
	key      string // keys.encryption_key
	password string // every bench user's password
}

func newSecrets() secrets {
	p := make([]byte, 32)
	k := make([]byte, 32)
	_, _ = rand.Read(p)
	_, _ = rand.Read(k)
	return secrets{
		pepper:   hex.EncodeToString(p),
		key:      base64.StdEncoding.EncodeToString(k),
		password: "bench-" + rand.Text(),
	}
}

func benchEmail(i int) string          { return fmt.Sprintf("user%04d@bench.example", i) }
func oracleActiveEmail(i int) string   { return fmt.Sprintf("oracle-active-%02d@bench.example", i) }
func oracleDisabledEmail(i int) string { return fmt.Sprintf("oracle-disabled-%02d@bench.example", i) }
func oracleCheapEmail(i int) string    { return fmt.Sprintf("oracle-cheap-%02d@bench.example", i) }

func openDB(ctx context.Context, url string) (*sqlx.DB, error) {
	// No statement or lock timeout: the bench's own statements include
	// -scale's COPY of ten million rows, which runs for minutes.
	return postgres.Open(ctx, url, postgres.Options{
		MaxOpenConns: serverPoolSize, MaxIdleConns: serverPoolSize, ConnectTimeout: 2 * time.Second,
		StatementTimeout: -1, LockTimeout: -1,
	})
}

// seed creates, in the default tenant, n users with the bench password hashed
// at cost, and the oracle users (active, at cost 4; the caller disables
// half of them with the CLI). Every user shares one hash: bcrypt's work
// doesn't depend on the salt, and hashing 200 times at cost 10 would
// take longer than the scenario it prepares.
func seed(ctx context.Context, store *postgres.Store, sec secrets, n, cost int) error {
	// `idp migrate up` creates the default tenant.
	tenant, err := store.TenantBySlug(ctx, "default")
	if err != nil {
		return fmt.Errorf("default tenant: %w", err)
	}
	hash, err := hashAt(sec, cost)
	if err != nil {
		return err
	}
	oracleHash, err := hashAt(sec, oracleCost)
	if err != nil {
		return err
	}
	cheapHash, err := hashAt(sec, cheapCost)
	if err != nil {
		return err
	}
	add := func(email, hash string) error {
		u := &core.User{TenantID: tenant.ID, Email: email, PasswordHash: hash, Status: core.UserActive}
		if err := store.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("create user %s: %w", email, err)
		}
		return nil
	}
	for i := range n {
		if err := add(benchEmail(i), hash); err != nil {
			return err
		}
	}
	for i := range oracleUsers {
		if err := add(oracleActiveEmail(i), oracleHash); err != nil {
			return err
		}
		if err := add(oracleDisabledEmail(i), oracleHash); err != nil {
			return err
		}
		if err := add(oracleCheapEmail(i), cheapHash); err != nil {
			return err
		}
	}
	return seedResetUsers(ctx, store, tenant, oracleHash)
}

func hashAt(sec secrets, cost int) (string, error) {
	h, err := password.NewHasher([]byte(sec.pepper), cost)
	if err != nil {
		return "", err
	}
	return h.Hash(sec.password)
}

// rawChain is one refresh token family driven straight through the store:
// the raw rotation baseline.
type rawChain struct {
	user core.User
	hash []byte // of the current unspent token
}

// newRawChain starts a session for user with one refresh token, as a
// login would.
func newRawChain(ctx context.Context, store *postgres.Store, user core.User) (*rawChain, error) {
	now := time.Now().UTC()
	sess := &core.Session{
		ID: uuid.New(), UserID: user.ID, TenantID: user.TenantID, CreatedAt: now,
		ExpiresAt: now.Add(720 * time.Hour), IdleExpiresAt: now.Add(168 * time.Hour), LastUsedAt: now,
		ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
	}
	raw, _ := token.NewOpaque()
	rt := &core.RefreshToken{ID: uuid.New(), SessionID: sess.ID, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: sess.IdleExpiresAt}
	err := store.InTx(ctx, func(tx core.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return tx.CreateRefreshToken(ctx, rt)
	})
	if err != nil {
		return nil, err
	}
	return &rawChain{user: user, hash: rt.Hash}, nil
}

// rotate runs the statements the server's refresh runs (core.Sessions.
// Refresh), in one transaction: spend the token, then store the child with
// the replay record, the session's new idle expiry and the audit row.
// What the server does besides (signing, sealing, HTTP, JSON) is the
// overhead the S3 ratio measures.
func (c *rawChain) rotate(ctx context.Context, store *postgres.Store, replay []byte) error {
	now := time.Now().UTC()
	var child *core.RefreshToken
	err := store.InTx(ctx, func(tx core.Tx) error {
		rt, sess, user, err := tx.SpendRefreshToken(ctx, c.hash, now)
		if err != nil {
			return err
		}
		idle := now.Add(168 * time.Hour)
		if sess.ExpiresAt.Before(idle) {
			idle = sess.ExpiresAt
		}
		raw, _ := token.NewOpaque()
		parent := rt.ID
		child = &core.RefreshToken{ID: uuid.New(), SessionID: sess.ID, ParentID: &parent, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: idle}
		uid, tid, sid := user.ID, user.TenantID, sess.ID
		return tx.StoreRotation(ctx, child, replay, now, idle, &core.AuditEvent{
			Time: now, Event: core.EventRefresh, Outcome: core.OutcomeSuccess, RequestID: uuid.NewString(),
			ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
			SubjectID: &uid, SubjectEmail: user.Email, TenantID: &tid, TenantSlug: user.TenantSlug, SessionID: &sid,
		})
	})
	if err != nil {
		return err
	}
	c.hash = child.Hash
	return nil
}

// replayRecord is a replay record of realistic size: a token response
// holding a real signed access token, sealed as the server seals it.
func replayRecord() ([]byte, error) {
	key, err := token.GenerateKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	access, err := token.Sign(key, token.Claims{
		Issuer: "http://127.0.0.1:8080", Subject: uuid.NewString(), Audience: "idp", ID: uuid.NewString(),
		SessionID: uuid.NewString(), TenantID: uuid.NewString(), Email: benchEmail(0), Roles: []string{},
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(15 * time.Minute),
	})
	if err != nil {
		return nil, err
	}
	raw, _ := token.NewOpaque()
	plain, err := json.Marshal(core.TokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: 900, IssuedAt: now.UTC().Format(time.RFC3339),
		KID: key.ID, RefreshToken: raw, RefreshExpiresIn: 604800,
	})
	if err != nil {
		return nil, err
	}
	parent, _ := token.NewOpaque()
	return token.SealForHolder(parent, plain)
}
