package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/idp-dev/idp/internal/metrics"
	"github.com/idp-dev/idp/internal/server"
)

// newMetrics makes the metrics of idp serve when metrics.addr is set; nil
// when it is off, and nothing is observed.
func newMetrics(cfg *Config, log *slog.Logger) *metrics.Metrics {
	if cfg.MetricsAddr == "" {
		return nil
	}
	return metrics.New(metrics.Options{Version: Version, Logger: log})
}

// startMetrics serves m for a on metrics.addr and returns it as the
// server's request observer; with metrics off it returns no observer and
// a stop that does nothing.
func startMetrics(cfg *Config, m *metrics.Metrics, a *app, log *slog.Logger) (server.RequestObserver, func(), error) {
	if m == nil {
		return nil, func() {}, nil
	}
	watchApp(m, a)
	stop, err := serveMetrics(cfg, m, log)
	if err != nil {
		return nil, nil, err
	}
	return m, stop, nil
}

// watchApp points the scrape-time collectors at the app's pools, keys and
// hashing slots.
func watchApp(m *metrics.Metrics, a *app) {
	m.WatchDB(a.db.DB, "idp")
	m.WatchKeys(a.svcs.Keys.Status)
	m.WatchHashSlots(a.svcs.Auth.HashSlots)
	m.WatchRedisPool(func() metrics.RedisPool {
		s := a.redis.PoolStats()
		return metrics.RedisPool{Hits: s.Hits, Misses: s.Misses, Timeouts: s.Timeouts, Total: s.Total, Idle: s.Idle}
	})
}

// serveMetrics serves GET /metrics on metrics.addr, a listener apart from
// the API's, until the returned stop is called. Anything else there is 404.
func serveMetrics(cfg *Config, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on metrics.addr %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", cfg.MetricsAddr, "err", err)
		}
	}()
	log.Info("metrics serving", "addr", l.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}
