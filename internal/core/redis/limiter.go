package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idp-dev/idp/internal/core"
)

// The lock checks and the counts must be one step: with a separate check,
// 200 concurrent attempts could all pass it before any is counted, and an
// attempt made during a lock would count towards the next one.
//
// KEYS[1] account lock, KEYS[2] account counter, KEYS[3] source lock,
// KEYS[4] source counter, KEYS[5] the account's set of sources.
// ARGV[1] source window ms, ARGV[2] account window ms, ARGV[3] "1" when
// the source is trusted (the account-wide lock doesn't apply), ARGV[4] the
// source's key suffix (for the set).
// Returns {source count, account count, 0, 0} or {0, 0, remaining lock in
// ms, 1 for the source's lock or 2 for the account's}.
var reserveScript = goredis.NewScript(`
local function remaining(key, window)
  local ttl = redis.call('PTTL', key)
  -- Lock always sets an expiry; a lock without one was set by hand: report
  -- it as lasting one more window rather than as "not locked".
  if ttl == -1 then return tonumber(window) end
  -- PTTL is 0 in the last millisecond of a key's life; it still exists.
  if ttl >= 0 then return math.max(ttl, 1) end
  return 0
end
if ARGV[3] ~= '1' then
  local a = remaining(KEYS[1], ARGV[2])
  if a > 0 then return {0, 0, a, 2} end
end
local s = remaining(KEYS[3], ARGV[1])
if s > 0 then return {0, 0, s, 1} end
local function count(key, window)
  local n = redis.call('INCR', key)
  -- Checking PTTL rather than n == 1 also repairs a counter that lost its
  -- expiry, which would otherwise never reset.
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
  return n
end
local n = count(KEYS[4], ARGV[1])
local m = count(KEYS[2], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[4])
if redis.call('PTTL', KEYS[5]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[5], ARGV[2]) end
return {n, m, 0, 0}
`)

// KEYS[1] level; ARGV[1] level TTL in ms. Returns the number of earlier locks.
var levelScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n - 1
`)

// Giving an attempt back never takes a counter below zero nor creates it.
//
// KEYS are counters.
var releaseScript = goredis.NewScript(`
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n > 0 then redis.call('DECR', k) end
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

// Unlock clears the account's keys and returns its sources, whose keys the
// caller then deletes (they share the account's hash slot).
//
// KEYS[1] lock, KEYS[2] counter, KEYS[3] level, KEYS[4] source set.
var unlockScript = goredis.NewScript(`
local sources = redis.call('SMEMBERS', KEYS[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return sources
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

// KEYS[1] this window's tally, KEYS[2] the previous window's; ARGV[1] ms
// to keep a tally (two windows). Returns {count, previous count}.
var tallyScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}
`)

// ReserveAttempt implements core.Limiter.
func (c *Client) ReserveAttempt(ctx context.Context, a core.Attempt, sourceWindow, accountWindow time.Duration) (core.Reservation, error) {
	if sourceWindow <= 0 || accountWindow <= 0 {
		return core.Reservation{}, errNonPositive("attempt window")
	}
	k := keysFor(a)
	trusted := "0"
	if a.Trusted {
		trusted = "1"
	}
	r, err := runInts(ctx, c.rdb, reserveScript, 4, []string{k.lock, k.counter, k.srcLock, k.srcCounter, k.sources},
		ms(sourceWindow), ms(accountWindow), trusted, k.srcID)
	if err != nil {
		return core.Reservation{}, err
	}
	if r[2] > 0 {
		return core.Reservation{Locked: fromMS(r[2]), AccountLocked: r[3] == 2}, nil
	}
	return core.Reservation{SourceCount: int(r[0]), AccountCount: int(r[1])}, nil
}

// A success clears its source's counter and gives back the account-wide
// attempt it reserved: only failures count towards the account's lock.
//
// KEYS[1] source counter, KEYS[2] account counter.
var resetScript = goredis.NewScript(`
redis.call('DEL', KEYS[1])
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > 0 then redis.call('DECR', KEYS[2]) end
return 0
`)

// ResetAttempts implements core.Limiter.
func (c *Client) ResetAttempts(ctx context.Context, a core.Attempt) error {
	k := keysFor(a)
	if err := resetScript.Run(ctx, c.rdb, []string{k.srcCounter, k.counter}).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// ReleaseAttempt implements core.Limiter.
func (c *Client) ReleaseAttempt(ctx context.Context, a core.Attempt) error {
	k := keysFor(a)
	if err := releaseScript.Run(ctx, c.rdb, []string{k.srcCounter, k.counter}).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// NextLockLevel implements core.Limiter.
func (c *Client) NextLockLevel(ctx context.Context, a core.Attempt, account bool, levelTTL time.Duration) (int, error) {
	if levelTTL <= 0 {
		return 0, errNonPositive("lock level TTL")
	}
	k := keysFor(a)
	level := k.srcLevel
	if account {
		level = k.level
	}
	n, err := levelScript.Run(ctx, c.rdb, []string{level}, ms(levelTTL)).Int64()
	if err != nil {
		return 0, unavailable(err)
	}
	return int(n), nil
}

// Lock implements core.Limiter.
func (c *Client) Lock(ctx context.Context, a core.Attempt, account bool, d time.Duration) error {
	if d <= 0 {
		return errNonPositive("lock duration")
	}
	k := keysFor(a)
	lock, counter := k.srcLock, k.srcCounter
	if account {
		lock, counter = k.lock, k.counter
	}
	if err := lockScript.Run(ctx, c.rdb, []string{lock, counter}, ms(d)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Unlock implements core.Limiter.
func (c *Client) Unlock(ctx context.Context, account string) error {
	k := keysFor(core.Attempt{Account: account})
	ids, err := unlockScript.Run(ctx, c.rdb, []string{k.lock, k.counter, k.level, k.sources}).StringSlice()
	if err != nil {
		return unavailable(err)
	}
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, 3*len(ids))
	for _, id := range ids {
		s := sourceKeys(k.base, id)
		keys = append(keys, s.lock, s.counter, s.level)
	}
	if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Tally implements core.Limiter with two fixed windows a key each.
func (c *Client) Tally(ctx context.Context, bucket string, window time.Duration) (int, int, error) {
	if window <= 0 {
		return 0, 0, errNonPositive("tally window")
	}
	i := time.Now().UnixMilli() / window.Milliseconds()
	base := bucketKey("tally:" + bucket)
	r, err := runInts(ctx, c.rdb, tallyScript, 2,
		[]string{base + ":" + strconv.FormatInt(i, 10), base + ":" + strconv.FormatInt(i-1, 10)}, ms(2*window))
	if err != nil {
		return 0, 0, err
	}
	return int(r[0]), int(r[1]), nil
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
	r, err := runInts(ctx, c.rdb, allowScript, 2, []string{bucketKey(bucket)}, ms(window))
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

// runInts runs a script that answers n integers. Any other answer is
// treated like an outage: guessing could let an attempt through.
func runInts(ctx context.Context, rdb goredis.Scripter, s *goredis.Script, n int, keys []string, args ...any) ([]int64, error) {
	r, err := s.Run(ctx, rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(r) != n {
		return nil, unavailable(errBadReply)
	}
	return r, nil
}
