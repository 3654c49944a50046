package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// slogDriverLog sends go-redis's own messages (dial failures and the like,
// which name the address but never the password) to a structured logger at
// debug level instead of raw lines on stderr.
type slogDriverLog struct{ log *slog.Logger }

func (l slogDriverLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis driver", "msg", fmt.Sprintf(format, v...))
}

// RouteDriverLog points go-redis's process-wide logger at log. Call it once
// at start-up, before opening clients.
func RouteDriverLog(log *slog.Logger) {
	goredis.SetLogger(slogDriverLog{log: log})
}
