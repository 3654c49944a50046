package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idp-dev/idp/internal/core"
)

// keysCollector reads the key set a process holds at each scrape, so the
// age keeps growing between loads.
type keysCollector struct {
	status func() core.KeyStatus
	now    func() time.Time
}

var (
	keyAgeDesc = prometheus.NewDesc("idp_signing_key_active_age_seconds",
		"Time since the active signing key started signing: a staged rotation (idp keys rotate) resets it.", nil, nil)
	keysPublishedDesc = prometheus.NewDesc("idp_signing_keys_published",
		"Keys in the JWKS this process serves (active, next and retired keys still verifying).", nil, nil)
	keysLoadedDesc = prometheus.NewDesc("idp_signing_keys_last_load_timestamp_seconds",
		"Unix time of this process's last successful load of the signing keys (every keys.poll_interval and on change notices).", nil, nil)
)

func (c *keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keyAgeDesc
	ch <- keysPublishedDesc
	ch <- keysLoadedDesc
}

func (c *keysCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	if !s.Loaded {
		return
	}
	ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, c.now().Sub(s.ActiveSince).Seconds())
	ch <- prometheus.MustNewConstMetric(keysPublishedDesc, prometheus.GaugeValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(keysLoadedDesc, prometheus.GaugeValue, float64(s.LoadedAt.UnixNano())/1e9)
}

// redisPoolCollector reads the Redis pool's counters at each scrape.
type redisPoolCollector struct{ stats func() RedisPool }

var (
	redisHitsDesc = prometheus.NewDesc("idp_redis_pool_hits_total",
		"Redis commands that found an idle pooled connection.", nil, nil)
	redisMissesDesc = prometheus.NewDesc("idp_redis_pool_misses_total",
		"Redis commands that had to dial a connection.", nil, nil)
	redisTimeoutsDesc = prometheus.NewDesc("idp_redis_pool_timeouts_total",
		"Redis commands that waited for a pooled connection in vain.", nil, nil)
	redisConnsDesc = prometheus.NewDesc("idp_redis_pool_connections",
		"Redis connections open, by state (idle, in_use).", []string{"state"}, nil)
)

func (c *redisPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- redisHitsDesc
	ch <- redisMissesDesc
	ch <- redisTimeoutsDesc
	ch <- redisConnsDesc
}

func (c *redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(redisHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(redisMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(redisTimeoutsDesc, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(max(s.Total-s.Idle, 0)), "in_use")
}
