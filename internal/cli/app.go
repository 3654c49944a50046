package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/core/redis"
	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/internal/mail"
	"github.com/idp-dev/idp/internal/metrics"
)

// app is everything a command needs, built the same way for every command
// so a rule such as "disabling a user revokes its sessions" exists once.
type app struct {
	cfg   *Config
	log   *slog.Logger
	db    *sqlx.DB
	store *postgres.Store
	redis *redis.Client
	svcs  *core.Services
}

func (g *globals) config() (*Config, error) {
	return loadConfig(g.configPath, g.getenv)
}

// newLogger writes JSON lines; secrets never reach it because nothing
// passes them in.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openDB connects to PostgreSQL with a pool sized for cfg and the
// per-statement timeouts a request path needs.
func openDB(ctx context.Context, cfg *Config) (*sqlx.DB, error) {
	return openDBWith(ctx, cfg, postgres.Options{MaxOpenConns: 20, MaxIdleConns: 20, ConnectTimeout: 2 * time.Second})
}

// openMigrationDB connects without statement or lock timeouts: a migration
// of a large table may rightly take minutes, or wait for a lock held by a
// running server.
func openMigrationDB(ctx context.Context, cfg *Config) (*sqlx.DB, error) {
	return openDBWith(ctx, cfg, postgres.Options{MaxOpenConns: 2, ConnectTimeout: 2 * time.Second,
		StatementTimeout: -1, LockTimeout: -1})
}

func openDBWith(ctx context.Context, cfg *Config, opts postgres.Options) (*sqlx.DB, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the database (database.url): %w", err)
	}
	return db, nil
}

// openApp builds core services on PostgreSQL and Redis.
func openApp(ctx context.Context, cfg *Config, log *slog.Logger) (*app, error) {
	return openObservedApp(ctx, cfg, log, nil)
}

// openObservedApp is openApp whose services and Redis client tell m
// (nil: nobody).
func openObservedApp(ctx context.Context, cfg *Config, log *slog.Logger, m *metrics.Metrics) (*app, error) {
	var (
		observer core.Observer
		onError  func(string)
	)
	if m != nil {
		observer, onError = m, m.RedisError
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, store: postgres.NewStore(db)}
	redis.RouteDriverLog(log)
	a.redis, err = redis.Open(ctx, cfg.RedisURL, redis.Options{PoolSize: 64,
		SentinelMaster: cfg.RedisSentinelMaster, SentinelAddrs: cfg.RedisSentinelAddrs, ClusterAddrs: cfg.RedisClusterAddrs,
		OnError: onError})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	hasher, err := password.NewHasher(cfg.Pepper, cfg.BcryptCost)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("security: %w", err)
	}
	sealer, err := token.NewSealer(cfg.EncryptionKey)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("keys.encryption_key: %w", err)
	}
	mailer, err := newMailer(cfg, log)
	if err != nil {
		a.Close()
		return nil, err
	}
	devices, err := token.NewDeviceTokens(cfg.EncryptionKey)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("keys.encryption_key: %w", err)
	}
	flows, err := token.NewMAC(cfg.EncryptionKey, "hosted pages: sign-in flows and form tokens")
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("keys.encryption_key: %w", err)
	}
	a.svcs, err = core.New(coreConfig(cfg), core.Deps{
		Store:       a.store,
		Limiter:     a.redis,
		Notifier:    a.redis,
		Mailer:      mailer,
		Hasher:      hasher,
		Sealer:      sealer,
		Devices:     devices,
		Flows:       flows,
		Logger:      log,
		Maintenance: a.store,
		Observer:    observer,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func newMailer(cfg *Config, log *slog.Logger) (core.Mailer, error) {
	switch cfg.MailDriver {
	case "smtp":
		return mail.NewSMTP(mail.SMTPOptions{
			Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, StartTLS: cfg.SMTP.StartTLS,
		}, log)
	default:
		m, err := mail.NewFile(cfg.MailFilePath)
		if err != nil {
			return nil, fmt.Errorf("mail.file_path: %w", err)
		}
		return m, nil
	}
}

func coreConfig(c *Config) core.Config {
	return core.Config{
		Issuer:              c.Issuer,
		Audience:            c.Audience,
		AccessTTL:           c.AccessTTL,
		RefreshTTL:          c.RefreshTTL,
		RefreshIdleTTL:      c.RefreshIdleTTL,
		RefreshGrace:        c.RefreshGrace,
		MaxAttempts:         c.LockoutMaxAttempts,
		AccountMaxAttempts:  c.LockoutAccountMaxAttempts,
		LockDuration:        c.LockoutDuration,
		LockMaxDuration:     c.LockoutMaxDuration,
		DeviceTokenTTL:      c.DeviceTokenTTL,
		IPPerMinute:         c.IPPerMinute,
		IPv6Prefix:          c.IPv6Prefix,
		JWKSMaxAge:          c.JWKSMaxAge,
		BrowserSessionTTL:   c.BrowserSessionTTL,
		BrowserIdleTTL:      c.BrowserIdleTTL,
		BrowserRememberTTL:  c.BrowserRememberTTL,
		CodeTTL:             c.CodeTTL,
		PasswordMinLength:   c.PasswordMinLength,
		DefaultTenant:       c.DefaultTenant,
		SeedPasswordTTL:     c.SeedPasswordTTL,
		ResetTTL:            c.ResetTTL,
		MaxConcurrentHashes: c.MaxConcurrentHashes,
		KeyPollInterval:     c.KeyPollInterval,
		SessionRetention:    c.SessionRetention,
		AuditRetention:      c.AuditRetention,
	}
}

// ready reports whether PostgreSQL and Redis both answer.
func (a *app) ready(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return err
	}
	return a.redis.Ping(ctx)
}

func (a *app) Close() {
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// withApp loads the config, opens the app for an admin command and closes
// it afterwards.
func (g *globals) withApp(ctx context.Context, fn func(a *app) error) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, newLogger(g.stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := requireMigrated(ctx, a); err != nil {
		return err
	}
	if err := fn(a); err != nil {
		return err
	}
	// Mail the command queued (an invite) goes out now, even when no server
	// runs; whatever fails stays queued for the servers' outbox worker.
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.svcs.Mail.Flush(flushCtx); err != nil {
		a.log.Warn("queued mail not delivered yet; idp serve will retry", "err", err)
	}
	return nil
}

// requireMigrated refuses to work on an old schema: queries against it fail
// with driver errors that don't tell the operator what to do.
func requireMigrated(ctx context.Context, a *app) error {
	m, err := postgres.NewMigrator(a.db.DB)
	if err != nil {
		return err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return err
	}
	if pending > 0 {
		return &exitError{code: ExitRefused, err: fmt.Errorf("%d database migration(s) pending: run `idp migrate up` first", pending)}
	}
	return nil
}

// cliMeta marks audit rows written by admin commands.
func cliMeta() core.Meta { return core.Meta{Actor: "cli", UserAgent: "idp-cli/" + Version} }
