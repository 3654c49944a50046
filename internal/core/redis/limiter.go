package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The lock check and the count must be one step: with a separate check, 200
// concurrent attempts could all pass it before any is counted, and an
// attempt made during a lock would count towards the next one.
//
// KEYS[1] lock, KEYS[2] counter; ARGV[1] window in ms.
// Returns {attempt, 0} or {0, remaining lock in ms}.
var reserveScript = goredis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  -- Lock always sets an expiry; a lock without one was set by hand. Report
  -- it as lasting one more window rather than as "not locked".
  return {0, tonumber(ARGV[1])}
end
if ttl >= 0 then
  -- PTTL is 0 in the last millisecond of a key's life; it still exists.
  return {0, math.max(ttl, 1)}
end
local n = redis.call('INCR', KEYS[2])
-- Checking PTTL rather than n == 1 also repairs a counter that lost its
-- expiry, which would otherwise never reset.
if redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return {n, 0}
`)

// KEYS[1] level; ARGV[1] level TTL in ms. Returns the number of earlier locks.
var levelScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n - 1
`)

// Giving an attempt back never takes the counter below zero nor creates it.
//
// KEYS[1] counter.
var releaseScript = goredis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
`)

// A lock and a stale counter must not coexist: the first attempt after the
// lock would otherwise resume the old count and lock again at once.
//
// KEYS[1] lock, KEYS[2] counter; ARGV[1] duration in ms.
var lockScript = goredis.NewScript(`
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`)

// KEYS[1] bucket; ARGV[1] window in ms. Returns {count, remaining window in ms}.
var allowScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// ReserveAttempt implements core.Limiter.
func (c *Client) ReserveAttempt(ctx context.Context, account string, window time.Duration) (int, time.Duration, error) {
	if window <= 0 {
		return 0, 0, errNonPositive("attempt window")
	}
	k := keysFor(account)
	r, err := runPair(ctx, c.rdb, reserveScript, []string{k.lock, k.counter}, ms(window))
	if err != nil {
		return 0, 0, err
	}
	if r[0] == 0 {
		return 0, fromMS(r[1]), nil
	}
	return int(r[0]), 0, nil
}

// ResetAttempts implements core.Limiter.
func (c *Client) ResetAttempts(ctx context.Context, account string) error {
	if err := c.rdb.Del(ctx, keysFor(account).counter).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// ReleaseAttempt implements core.Limiter.
func (c *Client) ReleaseAttempt(ctx context.Context, account string) error {
	if err := releaseScript.Run(ctx, c.rdb, []string{keysFor(account).counter}).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// NextLockLevel implements core.Limiter.
func (c *Client) NextLockLevel(ctx context.Context, account string, levelTTL time.Duration) (int, error) {
	if levelTTL <= 0 {
		return 0, errNonPositive("lock level TTL")
	}
	n, err := levelScript.Run(ctx, c.rdb, []string{keysFor(account).level}, ms(levelTTL)).Int64()
	if err != nil {
		return 0, unavailable(err)
	}
	return int(n), nil
}

// Lock implements core.Limiter.
func (c *Client) Lock(ctx context.Context, account string, d time.Duration) error {
	if d <= 0 {
		return errNonPositive("lock duration")
	}
	k := keysFor(account)
	if err := lockScript.Run(ctx, c.rdb, []string{k.lock, k.counter}, ms(d)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Unlock implements core.Limiter. One DEL of three keys is atomic already.
func (c *Client) Unlock(ctx context.Context, account string) error {
	k := keysFor(account)
	if err := c.rdb.Del(ctx, k.lock, k.counter, k.level).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// minRetryAfter keeps Retry-After from reading 0 in a window's last moments.
const minRetryAfter = time.Second

// Allow implements core.Limiter. A limit of zero or less means unlimited and
// does not need Redis at all.
func (c *Client) Allow(ctx context.Context, bucket string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit <= 0 {
		return true, 0, nil
	}
	if window <= 0 {
		return false, 0, errNonPositive("rate limit window")
	}
	r, err := runPair(ctx, c.rdb, allowScript, []string{bucketKey(bucket)}, ms(window))
	if err != nil {
		return false, 0, err
	}
	if r[0] <= int64(limit) {
		return true, 0, nil
	}
	return false, max(fromMS(r[1]), minRetryAfter), nil
}

// Ping implements core.Limiter.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// runPair runs a script that answers two integers. Any other answer is
// treated like an outage: guessing could let an attempt through.
func runPair(ctx context.Context, rdb *goredis.Client, s *goredis.Script, keys []string, args ...any) ([2]int64, error) {
	r, err := s.Run(ctx, rdb, keys, args...).Int64Slice()
	if err != nil {
		return [2]int64{}, unavailable(err)
	}
	if len(r) != 2 {
		return [2]int64{}, unavailable(errBadReply)
	}
	return [2]int64{r[0], r[1]}, nil
}
