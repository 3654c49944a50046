// Package redis keeps idp's fast, rebuildable state in Redis: login attempt
// counters and temporary locks, fixed-window rate limits, and the notices that
// tell every running server that the signing keys changed.
//
// Every failure to talk to Redis is reported as core.EUNAVAILABLE and never as
// "allowed": a limiter that cannot count must not let the attempt through.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/idp-dev/idp/internal/core"
)

// Options tunes the connection. Zero fields take the value given in the URL's
// query (go-redis syntax, e.g. ?read_timeout=2s), else the default.
type Options struct {
	DialTimeout  time.Duration // default 1s
	ReadTimeout  time.Duration // default 1s
	WriteTimeout time.Duration // default 1s
	PoolSize     int           // default go-redis's, 10 per GOMAXPROCS

	// Topology: a Cluster when ClusterAddrs is set, else Sentinel when
	// SentinelMaster is, else the single node of the URL. With Cluster or
	// Sentinel the URL is optional and gives only credentials, TLS
	// (rediss://) and, with Sentinel, the database; its host is not used.
	SentinelMaster string
	SentinelAddrs  []string
	ClusterAddrs   []string

	// OnError, when set, is told the name of each command that failed
	// ("dial" for a connection that could not be made), for metrics.
	OnError func(command string)
}

const defaultTimeout = time.Second

// Client implements core.Limiter and core.KeyNotifier on a Redis server, a
// Sentinel-managed primary or a Cluster. Every script keeps all its keys in
// one hash slot (see the key layout below), so a Cluster runs them as a
// single node would.
type Client struct {
	rdb goredis.UniversalClient
	// node holds the options of a single-node client, for tests.
	node *goredis.Options
}

var (
	_ core.Limiter     = (*Client)(nil)
	_ core.KeyNotifier = (*Client)(nil)
)

var errBadURL = &core.Error{Code: core.EINVALID, Message: "redis.url is not a valid Redis URL (redis://, rediss:// or unix://)"}

// Open parses url and returns a client. It does not connect: the server must
// start, report not-ready while Redis is down and recover without a restart,
// so connections are made, and remade, on demand.
func Open(_ context.Context, url string, opts Options) (*Client, error) {
	o := &goredis.Options{}
	if url != "" || (len(opts.ClusterAddrs) == 0 && opts.SentinelMaster == "") {
		var err error
		if o, err = goredis.ParseURL(url); err != nil {
			// The parser's message may quote the URL, password included, so
			// neither its text nor the error itself is passed on.
			return nil, errBadURL
		}
	}
	tune(o, opts)
	var c *Client
	switch {
	case len(opts.ClusterAddrs) > 0:
		c = &Client{rdb: goredis.NewClusterClient(clusterOptions(o, opts.ClusterAddrs))}
	case opts.SentinelMaster != "":
		if len(opts.SentinelAddrs) == 0 {
			return nil, &core.Error{Code: core.EINVALID, Message: "redis.sentinel.addrs is required with redis.sentinel.master"}
		}
		c = &Client{rdb: goredis.NewFailoverClient(failoverOptions(o, opts.SentinelMaster, opts.SentinelAddrs))}
	default:
		c = &Client{rdb: goredis.NewClient(o), node: o}
	}
	if opts.OnError != nil {
		c.rdb.AddHook(errorHook{onError: opts.OnError})
	}
	return c, nil
}

// tune applies the timeouts and retry policy every topology shares.
func tune(o *goredis.Options, opts Options) {
	o.DialTimeout = pick(opts.DialTimeout, o.DialTimeout, defaultTimeout)
	o.ReadTimeout = pick(opts.ReadTimeout, o.ReadTimeout, defaultTimeout)
	o.WriteTimeout = pick(opts.WriteTimeout, o.WriteTimeout, defaultTimeout)
	if opts.PoolSize > 0 {
		o.PoolSize = opts.PoolSize
	}
	// Failing fast matters more here than riding out a blip: a login waits on
	// every call. One retry is enough to replace a connection that died with a
	// Redis restart; go-redis's defaults (3 retries of 5 dials each) could
	// hold a request for many seconds when Redis is unreachable.
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = max(o.ReadTimeout, defaultTimeout)
	}
	// The caller's deadline (the HTTP request's) bounds each call as well.
	o.ContextTimeoutEnabled = true
	// Maintenance notifications are for Redis Enterprise/Cloud upgrades; on a
	// plain server they only add a handshake command and log noise.
	if o.MaintNotificationsConfig == nil {
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// During a failover the old primary refuses connections until a replica is
// promoted (Sentinel: about down-after-milliseconds plus a second). A few
// retries with backoff, within the caller's deadline, carry most requests
// across that gap instead of failing each at once.
const (
	failoverRetries    = 4
	failoverMinBackoff = 100 * time.Millisecond
	failoverMaxBackoff = 700 * time.Millisecond
)

func failoverOptions(o *goredis.Options, master string, addrs []string) *goredis.FailoverOptions {
	return &goredis.FailoverOptions{
		MasterName: master, SentinelAddrs: addrs,
		Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout, DialerRetries: o.DialerRetries,
		MaxRetries: max(o.MaxRetries, failoverRetries), MinRetryBackoff: failoverMinBackoff, MaxRetryBackoff: failoverMaxBackoff,
		ContextTimeoutEnabled: true,
	}
}

func clusterOptions(o *goredis.Options, addrs []string) *goredis.ClusterOptions {
	return &goredis.ClusterOptions{
		Addrs:    addrs,
		Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout, DialerRetries: o.DialerRetries,
		// A resharding or failover answers MOVED/ASK: follow them, and retry
		// with backoff while a failed primary's replica takes over.
		MaxRedirects: 3, MaxRetries: max(o.MaxRetries, failoverRetries),
		MinRetryBackoff: failoverMinBackoff, MaxRetryBackoff: failoverMaxBackoff,
		ContextTimeoutEnabled:    true,
		MaintNotificationsConfig: o.MaintNotificationsConfig,
	}
}

// pick returns the first non-zero duration: explicit option, URL, default.
func pick(explicit, fromURL, def time.Duration) time.Duration {
	switch {
	case explicit != 0:
		return explicit
	case fromURL != 0:
		return fromURL
	default:
		return def
	}
}

// Close closes the connections; subscriptions end with them.
func (c *Client) Close() error { return c.rdb.Close() }

// unavailable is the one error every Redis failure becomes, so callers answer
// 503 with Retry-After and never treat the failure as a pass.
func unavailable(err error) error {
	return &core.Error{
		Code:       core.EUNAVAILABLE,
		Message:    "rate limiter is temporarily unavailable",
		RetryAfter: 2 * time.Second,
		Err:        err,
	}
}

var errBadReply = errors.New("redis: unexpected script reply")

// Key layout. Accounts and buckets are opaque strings of any bytes and any
// length, so they are hashed: keys stay short and no byte of user input can
// reach the key space. 128 bits of SHA-256 make an accidental collision
// impossible in practice. The {} hash tag puts an account's three keys in one
// cluster slot, which the multi-key scripts would need on Redis Cluster.
const (
	keyPrefix   = "idp:"
	keysChannel = "idp:keys"
)

// attemptKeys are the keys of an account and of one of its sources. A
// source's keys carry the account's hash tag too, so every key a script
// touches is in one slot.
type attemptKeys struct {
	base                 string
	counter, lock, level string // the account's
	sources              string // set of the account's source ids
	srcID                string
	srcCounter, srcLock  string
	srcLevel             string
}

type keyTriple struct{ counter, lock, level string }

func sourceKeys(base, id string) keyTriple {
	b := base + "s:" + id + ":"
	return keyTriple{counter: b + "n", lock: b + "l", level: b + "v"}
}

func keysFor(a core.Attempt) attemptKeys {
	base := keyPrefix + "a:{" + digest(a.Account) + "}:"
	k := attemptKeys{base: base, counter: base + "n", lock: base + "l", level: base + "v", sources: base + "src"}
	if a.Source != "" {
		k.srcID = digest(a.Source)
		s := sourceKeys(base, k.srcID)
		k.srcCounter, k.srcLock, k.srcLevel = s.counter, s.lock, s.level
	}
	return k
}

// bucketKey carries the bucket's hash tag: Tally's two windows (bucket key
// plus ":" and a window number) must share a Cluster slot.
func bucketKey(bucket string) string { return keyPrefix + "r:{" + digest(bucket) + "}" }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// ms converts d to whole milliseconds for PX/PEXPIRE, rounding up so a
// positive duration never becomes 0 (which PEXPIRE would take as "delete
// now" and SET PX rejects).
func ms(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func fromMS(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// errNonPositive reports a programming error, not a Redis failure: a zero
// window or lock would silently disable throttling.
func errNonPositive(what string) error {
	return errors.New("redis: " + what + " must be positive")
}
