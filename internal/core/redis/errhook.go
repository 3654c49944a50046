package redis

import (
	"context"
	"errors"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// errorHook tells onError the name of every command that failed: the
// count an operator alerts on (idp_redis_errors_total). A missing key
// (redis.Nil), a script not yet loaded (NOSCRIPT: go-redis loads it and
// retries), a caller that went away and the connection handshake's
// optional commands (HELLO and CLIENT SETINFO, which servers before 7.2
// refuse and go-redis does without) are not Redis failures.
type errorHook struct{ onError func(command string) }

func (h errorHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && !errors.Is(err, context.Canceled) {
			h.onError("dial")
		}
		return conn, err
	}
}

func (h errorHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if failed(err) && !handshake(cmd.Name()) {
			h.onError(cmd.Name())
		}
		return err
	}
}

func (h errorHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if failed(cmd.Err()) && !handshake(cmd.Name()) {
				h.onError(cmd.Name())
			}
		}
		return err
	}
}

func handshake(name string) bool { return name == "hello" || name == "client" }

func failed(err error) bool {
	return err != nil && !errors.Is(err, goredis.Nil) && !errors.Is(err, context.Canceled) &&
		!strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// PoolStats is the state of the connection pool.
type PoolStats struct {
	Hits, Misses, Timeouts uint64 // connections reused, dialled, waited for in vain
	Total, Idle            int    // connections open, of them idle
}

// PoolStats reads the pool's counters (summed over nodes on a Cluster).
func (c *Client) PoolStats() PoolStats {
	s := c.rdb.PoolStats()
	if s == nil {
		return PoolStats{}
	}
	return PoolStats{Hits: uint64(s.Hits), Misses: uint64(s.Misses), Timeouts: uint64(s.Timeouts),
		Total: int(s.TotalConns), Idle: int(s.IdleConns)}
}
