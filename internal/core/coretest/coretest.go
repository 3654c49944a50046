// Package coretest builds core services on real adapters for tests: a
// fresh migrated PostgreSQL database, a private Redis, a peppered hasher at
// bcrypt cost 4 and sealed signing keys, loaded and ready. The core, server
// and other test suites share it so they test the same wiring.
package coretest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/core/redis"
	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/internal/testenv"
)

// Options shape the environment; zero values get test defaults.
type Options struct {
	Config        core.Config // zero: Config()
	Mailer        core.Mailer
	Now           func() time.Time
	Logger        *slog.Logger
	Pepper        []byte // zero: random 32 bytes
	EncryptionKey []byte // zero: random 32 bytes
	// NoMailWorker leaves queued mail for the test to deliver
	// (Services.Mail.DeliverDue).
	NoMailWorker bool
}

// Env is a ready core with handles on everything under it.
type Env struct {
	Services      *core.Services
	Config        core.Config
	Deps          core.Deps
	DB            *sqlx.DB
	Store         *postgres.Store
	Limiter       *redis.Client
	Redis         *testenv.Redis
	Pepper        []byte
	EncryptionKey []byte
}

// Config is the configuration tests start from: the contract's defaults
// with a fast key poll.
func Config() core.Config {
	return core.Config{
		Issuer:              "http://idp.test",
		Audience:            "idp",
		AccessTTL:           15 * time.Minute,
		RefreshTTL:          720 * time.Hour,
		RefreshIdleTTL:      168 * time.Hour,
		RefreshGrace:        10 * time.Second,
		MaxAttempts:         5,
		LockDuration:        15 * time.Minute,
		LockMaxDuration:     time.Hour,
		PasswordMinLength:   12,
		DefaultTenant:       "default",
		SeedPasswordTTL:     24 * time.Hour,
		ResetTTL:            30 * time.Minute,
		MaxConcurrentHashes: 4,
		KeyPollInterval:     100 * time.Millisecond,
		MailPollInterval:    20 * time.Millisecond,
		SessionRetention:    720 * time.Hour,
		AuditRetention:      9600 * time.Hour,
	}
}

// New builds the environment; everything is torn down when the test ends.
// The signing keys exist and are loaded, and the default tenant exists.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	if opts.Config == (core.Config{}) {
		opts.Config = Config()
	}
	if opts.Pepper == nil {
		opts.Pepper = randomBytes(32)
	}
	if opts.EncryptionKey == nil {
		opts.EncryptionKey = randomBytes(32)
	}

	db, err := postgres.Open(ctx, testenv.Postgres(t), postgres.Options{MaxOpenConns: 20, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := postgres.NewMigrator(db.DB)
	if err != nil {
		t.Fatalf("NewMigrator: %v", err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	r := testenv.StartRedis(t)
	rc, err := redis.Open(ctx, r.URL(), redis.Options{})
	if err != nil {
		t.Fatalf("redis.Open: %v", err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	hasher, err := password.NewHasher(opts.Pepper, 4)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	sealer, err := token.NewSealer(opts.EncryptionKey)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	env := &Env{
		Config: opts.Config, DB: db, Store: postgres.NewStore(db), Limiter: rc, Redis: r,
		Pepper: opts.Pepper, EncryptionKey: opts.EncryptionKey,
	}
	env.Deps = core.Deps{
		Store: env.Store, Maintenance: env.Store, Limiter: rc, Notifier: rc, Mailer: opts.Mailer,
		Hasher: hasher, Sealer: sealer, Logger: opts.Logger, Now: opts.Now,
	}
	env.Services, err = core.New(opts.Config, env.Deps)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	meta := core.Meta{Actor: "test"}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	seedRSAKeys(t, env.Store, sealer, now())
	if err := env.Services.Keys.Ensure(ctx, meta); err != nil {
		t.Fatalf("Keys.Ensure: %v", err)
	}
	if err := env.Services.Keys.Load(ctx); err != nil {
		t.Fatalf("Keys.Load: %v", err)
	}
	if _, err := env.Services.Tenants.Ensure(ctx, opts.Config.DefaultTenant, meta); err != nil {
		t.Fatalf("Tenants.Ensure: %v", err)
	}
	if opts.NoMailWorker {
		return env
	}
	// The outbox worker delivers queued mail, as in idp serve.
	workerCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.Services.Mail.Run(workerCtx)
	}()
	t.Cleanup(func() { stop(); <-done })
	return env
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// rsaPair is one RS256 active and next key for every environment of the
// test binary: generating a 3072-bit key takes a few hundred milliseconds,
// which over hundreds of environments would double the test time. Each
// environment has its own database, so sharing the keys shares no kid.
var rsaPair = sync.OnceValue(func() [2]token.RSAKey {
	var pair [2]token.RSAKey
	for i := range pair {
		k, err := token.GenerateRSAKey()
		if err != nil {
			panic("coretest: " + err.Error())
		}
		pair[i] = k
	}
	return pair
})

// seedRSAKeys stores rsaPair as the RS256 active and next key, sealed under
// this environment's encryption key, so Keys.Ensure only makes the Ed25519
// pair. Ensure's own RSA path is tested where the keys are deleted first
// (core's TestEnsureAddsRSAKeys, TestConcurrentEnsureMakesOnePair) and by
// every `idp migrate up` of the CLI tests.
func seedRSAKeys(t testing.TB, store *postgres.Store, sealer *token.Sealer, now time.Time) {
	t.Helper()
	now = now.UTC().Truncate(time.Microsecond)
	for i, state := range []core.KeyState{core.KeyActive, core.KeyNext} {
		k := rsaPair()[i]
		sealed, err := sealer.Seal(token.MarshalRSAPrivateKey(k.Private), []byte(k.ID))
		if err != nil {
			t.Fatalf("seal RSA key: %v", err)
		}
		sk := core.SigningKey{Alg: core.AlgRS256, KID: k.ID, State: state, CreatedAt: now,
			Public: token.MarshalRSAPublicKey(&k.Private.PublicKey), PrivateSealed: sealed}
		if state == core.KeyActive {
			sk.ActivatedAt = &now
		}
		if err := store.InsertSigningKey(context.Background(), &sk); err != nil {
			t.Fatalf("insert RSA key: %v", err)
		}
	}
}
