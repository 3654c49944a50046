package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// Config is the whole validated configuration (CONTRACT section 1).
type Config struct {
	DatabaseURL string
	RedisURL    string
	// Sentinel or Cluster instead of the single node of RedisURL.
	RedisSentinelMaster string
	RedisSentinelAddrs  []string
	RedisClusterAddrs   []string

	HTTPAddr          string
	HTTPShutdownGrace time.Duration
	TrustedProxies    []netip.Prefix
	// HTTPMaxConnections caps open connections; 0 sizes it to the machine.
	HTTPMaxConnections int
	// MetricsAddr is the listen address of GET /metrics; empty is off.
	MetricsAddr string

	Issuer         string
	Audience       string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	RefreshIdleTTL time.Duration
	RefreshGrace   time.Duration
	ResetTTL       time.Duration

	Pepper              []byte
	BcryptCost          int
	MaxConcurrentHashes int

	EncryptionKey   []byte
	KeyPollInterval time.Duration
	JWKSMaxAge      time.Duration

	LockoutMaxAttempts        int
	LockoutAccountMaxAttempts int
	LockoutDuration           time.Duration
	LockoutMaxDuration        time.Duration
	DeviceTokenTTL            time.Duration
	IPPerMinute               int
	IPv6Prefix                int

	PasswordMinLength int
	DefaultTenant     string
	SeedPasswordTTL   time.Duration

	MailDriver   string
	MailFilePath string
	SMTP         SMTPConfig

	LogLevel string

	// Janitor (idp maintenance prune, and idp serve every interval).
	SessionRetention    time.Duration
	AuditRetention      time.Duration
	MaintenanceInterval time.Duration

	// TLS of idp serve; both empty serves plain http.
	TLSCertFile, TLSKeyFile string

	// Browser sessions of the hosted pages.
	BrowserSessionTTL, BrowserIdleTTL, BrowserRememberTTL time.Duration

	// CodeTTL is how long an OpenID Connect authorization code lives.
	CodeTTL time.Duration

	// Branding of the hosted pages.
	UI UIConfig
}

// UIConfig brands the hosted pages.
type UIConfig struct {
	ProductName, LogoFile, AccentColor, TemplatesDir string
}

// SMTPConfig configures the smtp mail driver.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	StartTLS bool
}

// defaults lists every key with its default; "" marks a required key.
var defaults = map[string]string{
	"database.url":                   "",
	"redis.url":                      "",
	"redis.sentinel.master":          "",
	"redis.sentinel.addrs":           "",
	"redis.cluster.addrs":            "",
	"http.addr":                      "127.0.0.1:8080",
	"http.shutdown_grace":            "15s",
	"http.trusted_proxies":           "",
	"http.max_connections":           "0",
	"issuer":                         "http://127.0.0.1:8080",
	"tokens.audience":                "idp",
	"tokens.access_ttl":              "15m",
	"tokens.refresh_ttl":             "720h",
	"tokens.refresh_idle_ttl":        "168h",
	"tokens.refresh_grace":           "10s",
	"tokens.reset_ttl":               "30m",
	"security.pepper":                "",
	"security.bcrypt_cost":           "12",
	"security.max_concurrent_hashes": strconv.Itoa(runtime.NumCPU()),
	"keys.encryption_key":            "",
	"keys.poll_interval":             "2s",
	"keys.jwks_max_age":              "5m",
	"lockout.max_attempts":           "5",
	"lockout.account_max_attempts":   "100",
	"lockout.device_token_ttl":       "2160h",
	"lockout.duration":               "15m",
	"lockout.max_duration":           "1h",
	"ratelimit.ip_per_minute":        "120",
	"ratelimit.ipv6_prefix":          "64",
	"password.min_length":            "12",
	"tenants.default":                "default",
	"mail.driver":                    "file",
	"mail.file_path":                 "./var/mail.jsonl",
	"mail.smtp.host":                 "",
	"mail.smtp.port":                 "587",
	"mail.smtp.username":             "",
	"mail.smtp.password":             "",
	"mail.smtp.from":                 "",
	"mail.smtp.starttls":             "true",
	"seed.password_ttl":              "24h",
	"log.level":                      "info",
	"http.tls_cert_file":             "",
	"http.tls_key_file":              "",
	"browser.session_ttl":            "12h",
	"browser.idle_ttl":               "30m",
	"browser.remember_ttl":           "720h",
	"oidc.code_ttl":                  "60s",
	"ui.product_name":                "idp",
	"ui.logo_file":                   "",
	"ui.accent_color":                "",
	"ui.templates_dir":               "",
	"retention.sessions":             "720h",
	"retention.audit":                "9600h",
	"maintenance.interval":           "10m",
	"metrics.addr":                   "",
}

// ConfigError names every bad key at once.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// loadConfig reads path (or ./config/idp.yaml when it exists) and the IDP_*
// environment, then validates everything.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	if path == "" {
		if _, err := os.Stat("config/idp.yaml"); err == nil {
			path = "config/idp.yaml"
		}
	}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("config file %s: %v", path, configFileErr(err))}}
		}
	}
	// Environment overlays the file; read through getenv so tests and the
	// process share one path.
	for k := range defaults {
		env := "IDP_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if val := getenv(env); val != "" {
			v.Set(k, val)
		}
	}
	var unknown []string
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	p := &parser{v: v}
	c := &Config{
		DatabaseURL:               p.url("database.url", "postgres", "postgresql"),
		RedisURL:                  p.redisURL(),
		RedisSentinelMaster:       p.str("redis.sentinel.master"),
		RedisSentinelAddrs:        p.hostPorts("redis.sentinel.addrs"),
		RedisClusterAddrs:         p.hostPorts("redis.cluster.addrs"),
		HTTPAddr:                  p.addr("http.addr"),
		HTTPShutdownGrace:         p.duration("http.shutdown_grace", 0),
		TrustedProxies:            p.prefixes("http.trusted_proxies"),
		HTTPMaxConnections:        p.intRange("http.max_connections", 0, 1<<20),
		MetricsAddr:               p.optionalAddr("metrics.addr"),
		Issuer:                    p.issuer("issuer"),
		Audience:                  p.nonEmpty("tokens.audience"),
		AccessTTL:                 p.duration("tokens.access_ttl", time.Second),
		RefreshTTL:                p.duration("tokens.refresh_ttl", time.Minute),
		RefreshIdleTTL:            p.duration("tokens.refresh_idle_ttl", time.Minute),
		RefreshGrace:              p.duration("tokens.refresh_grace", 0),
		ResetTTL:                  p.duration("tokens.reset_ttl", time.Minute),
		Pepper:                    p.pepper("security.pepper"),
		BcryptCost:                p.intRange("security.bcrypt_cost", 4, 31),
		MaxConcurrentHashes:       p.intRange("security.max_concurrent_hashes", 1, 1024),
		EncryptionKey:             p.key32("keys.encryption_key"),
		KeyPollInterval:           p.duration("keys.poll_interval", 100*time.Millisecond),
		JWKSMaxAge:                p.duration("keys.jwks_max_age", time.Second),
		LockoutMaxAttempts:        p.intRange("lockout.max_attempts", 1, 1000),
		LockoutAccountMaxAttempts: p.intRange("lockout.account_max_attempts", 1, 100000),
		DeviceTokenTTL:            p.duration("lockout.device_token_ttl", time.Hour),
		IPv6Prefix:                p.intRange("ratelimit.ipv6_prefix", 32, 128),
		LockoutDuration:           p.duration("lockout.duration", time.Second),
		LockoutMaxDuration:        p.duration("lockout.max_duration", time.Second),
		IPPerMinute:               p.intRange("ratelimit.ip_per_minute", 0, 1_000_000),
		PasswordMinLength:         p.intRange("password.min_length", 8, 64),
		DefaultTenant:             p.slug("tenants.default"),
		SeedPasswordTTL:           p.duration("seed.password_ttl", time.Minute),
		MailDriver:                p.oneOf("mail.driver", "file", "smtp"),
		MailFilePath:              v.GetString("mail.file_path"),
		SMTP: SMTPConfig{
			Host:     v.GetString("mail.smtp.host"),
			Port:     p.intRange("mail.smtp.port", 1, 65535),
			Username: v.GetString("mail.smtp.username"),
			Password: v.GetString("mail.smtp.password"),
			From:     v.GetString("mail.smtp.from"),
			StartTLS: p.boolean("mail.smtp.starttls"),
		},
		LogLevel:            p.oneOf("log.level", "debug", "info", "warn", "error"),
		SessionRetention:    p.duration("retention.sessions", time.Minute),
		AuditRetention:      p.duration("retention.audit", 0),
		MaintenanceInterval: p.duration("maintenance.interval", 0),
		TLSCertFile:         p.str("http.tls_cert_file"),
		TLSKeyFile:          p.str("http.tls_key_file"),
		BrowserSessionTTL:   p.duration("browser.session_ttl", time.Minute),
		BrowserIdleTTL:      p.duration("browser.idle_ttl", time.Minute),
		BrowserRememberTTL:  p.duration("browser.remember_ttl", time.Minute),
		CodeTTL:             p.duration("oidc.code_ttl", 5*time.Second),
		UI: UIConfig{
			ProductName:  p.nonEmpty("ui.product_name"),
			LogoFile:     p.str("ui.logo_file"),
			AccentColor:  p.str("ui.accent_color"),
			TemplatesDir: p.str("ui.templates_dir"),
		},
	}
	if c.CodeTTL > 10*time.Minute {
		// RFC 6749 4.1.2: a code lives at most ten minutes.
		p.bad("oidc.code_ttl", "must be at most 10m")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.bad("http.tls_cert_file", "and http.tls_key_file go together: set both or neither")
	}
	if c.BrowserIdleTTL > c.BrowserSessionTTL && c.BrowserSessionTTL > 0 {
		p.bad("browser.idle_ttl", "must not be longer than browser.session_ttl")
	}
	if len(c.UI.ProductName) > 64 {
		p.bad("ui.product_name", "must be at most 64 bytes")
	}
	if c.LockoutAccountMaxAttempts > 0 && c.LockoutAccountMaxAttempts < c.LockoutMaxAttempts {
		p.bad("lockout.account_max_attempts", "must not be smaller than lockout.max_attempts")
	}
	if c.LockoutMaxDuration > 0 && c.LockoutDuration > c.LockoutMaxDuration {
		p.bad("lockout.max_duration", "must not be shorter than lockout.duration")
	}
	if c.RefreshIdleTTL > 0 && c.RefreshTTL > 0 && c.RefreshIdleTTL > c.RefreshTTL {
		p.bad("tokens.refresh_idle_ttl", "must not be longer than tokens.refresh_ttl")
	}
	switch {
	case len(c.RedisClusterAddrs) > 0 && (c.RedisSentinelMaster != "" || len(c.RedisSentinelAddrs) > 0):
		p.bad("redis.cluster.addrs", "can't be combined with redis.sentinel.*: choose Cluster or Sentinel")
	case c.RedisSentinelMaster != "" && len(c.RedisSentinelAddrs) == 0:
		p.bad("redis.sentinel.addrs", "is required with redis.sentinel.master")
	case c.RedisSentinelMaster == "" && len(c.RedisSentinelAddrs) > 0:
		p.bad("redis.sentinel.master", "is required with redis.sentinel.addrs")
	}
	if c.MetricsAddr != "" && sameListener(c.MetricsAddr, c.HTTPAddr) {
		p.bad("metrics.addr", "must differ from http.addr: /metrics has a listener of its own (for example 127.0.0.1:9464)")
	}
	if c.MaintenanceInterval > 0 && c.MaintenanceInterval < time.Second {
		p.bad("maintenance.interval", "must be 0 (off) or at least 1s")
	}
	if c.MailDriver == "file" && c.MailFilePath == "" {
		p.bad("mail.file_path", "is required with mail.driver file")
	}
	if c.MailDriver == "smtp" {
		if c.SMTP.Host == "" {
			p.bad("mail.smtp.host", "is required with mail.driver smtp")
		}
		if c.SMTP.From == "" {
			p.bad("mail.smtp.from", "is required with mail.driver smtp")
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		p.bad(k, "is not a known setting")
	}
	if len(p.problems) > 0 {
		return nil, &ConfigError{Problems: p.problems}
	}
	return c, nil
}

// configFileErr keeps the reason but never echoes file contents.
func configFileErr(err error) string {
	var notFound viper.ConfigFileNotFoundError
	if errors.As(err, &notFound) || os.IsNotExist(errors.Unwrap(err)) || strings.Contains(err.Error(), "no such file") {
		return "not found"
	}
	return "cannot be read as YAML"
}

// parser collects every problem instead of stopping at the first. Messages
// never contain a value: some keys are secrets.
type parser struct {
	v        *viper.Viper
	problems []string
}

func (p *parser) bad(key, why string) { p.problems = append(p.problems, key+" "+why) }

func (p *parser) str(key string) string { return strings.TrimSpace(p.v.GetString(key)) }

func (p *parser) nonEmpty(key string) string {
	s := p.str(key)
	if s == "" {
		p.bad(key, "is required")
	}
	return s
}

func (p *parser) url(key string, schemes ...string) string {
	s := p.str(key)
	if s == "" {
		p.bad(key, "is required")
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		p.bad(key, "is not a valid URL")
		return ""
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return s
		}
	}
	p.bad(key, "must be a "+strings.Join(schemes, " or ")+" URL")
	return ""
}

// issuer normalizes the public base URL, so that everything compared with
// or built on it (the iss claim, the hosted form's Origin check, discovery
// and mailed links) sees the one spelling a browser sends as its origin:
// lower-case scheme and host, no default port, no trailing slash. A path
// prefix is refused rather than half-supported: idp serves its routes at
// the root of its host.
func (p *parser) issuer(key string) string {
	s := p.str(key)
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		strings.ContainsAny(s, "?#") {
		p.bad(key, "must be an http(s) base URL without query or fragment")
		return ""
	}
	if u.User != nil {
		p.bad(key, "must not hold a user name or password")
		return ""
	}
	if strings.Trim(u.EscapedPath(), "/") != "" {
		p.bad(key, "must not have a path: idp serves at the root of its host (use a host of its own, such as https://id.example.com)")
		return ""
	}
	host := strings.ToLower(u.Hostname())
	for _, r := range host {
		if r > 0x7f {
			p.bad(key, "must name its host in ASCII (the punycode xn-- form)")
			return ""
		}
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535:
			p.bad(key, "has an invalid port")
			return ""
		case u.Scheme == "https" && n == 443, u.Scheme == "http" && n == 80:
			port = ""
		default:
			port = strconv.Itoa(n)
		}
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host
}

func (p *parser) addr(key string) string {
	s := p.str(key)
	if _, _, err := net.SplitHostPort(s); err != nil {
		p.bad(key, "must be host:port")
	}
	return s
}

// optionalAddr is host:port, or empty for off.
func (p *parser) optionalAddr(key string) string {
	if p.str(key) == "" {
		return ""
	}
	return p.addr(key)
}

// sameListener reports whether two listen addresses would claim one port:
// the same port (not 0, which picks a free one) on the same host, or on
// a wildcard host that takes every address.
func sameListener(a, b string) bool {
	if a == b {
		return true
	}
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || wildcard(ha) || wildcard(hb)
}

func (p *parser) duration(key string, min time.Duration) time.Duration {
	s := p.str(key)
	d, err := time.ParseDuration(s)
	if err != nil {
		p.bad(key, "is not a duration (use Go syntax such as 15m or 720h)")
		return 0
	}
	if d < min {
		p.bad(key, "must be at least "+min.String())
	}
	return d
}

func (p *parser) intRange(key string, min, max int) int {
	n, err := strconv.Atoi(p.str(key))
	if err != nil {
		p.bad(key, "is not a whole number")
		return 0
	}
	if n < min || n > max {
		p.bad(key, fmt.Sprintf("must be between %d and %d", min, max))
	}
	return n
}

func (p *parser) boolean(key string) bool {
	b, err := strconv.ParseBool(p.str(key))
	if err != nil {
		p.bad(key, "must be true or false")
	}
	return b
}

func (p *parser) oneOf(key string, allowed ...string) string {
	s := p.str(key)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.bad(key, "must be one of "+strings.Join(allowed, ", "))
	return ""
}

func (p *parser) slug(key string) string {
	s := p.str(key)
	ok := len(s) >= 1 && len(s) <= 63
	for _, r := range s {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}
	if !ok {
		p.bad(key, "must be 1-63 lowercase letters, digits or hyphens")
	}
	return s
}

func (p *parser) pepper(key string) []byte {
	s := p.v.GetString(key)
	switch {
	case s == "":
		p.bad(key, "is required (at least 32 bytes)")
	case len(s) < 32:
		p.bad(key, "must be at least 32 bytes")
	}
	return []byte(s)
}

func (p *parser) key32(key string) []byte {
	s := p.str(key)
	if s == "" {
		p.bad(key, "is required (base64 of 32 random bytes)")
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != 32 {
		p.bad(key, "must be base64 of exactly 32 bytes")
		return nil
	}
	return b
}

// redisURL is required unless Sentinel or Cluster is configured; then it
// may still carry credentials and TLS (rediss://).
func (p *parser) redisURL() string {
	if p.str("redis.url") == "" && (p.str("redis.sentinel.master") != "" || len(p.list("redis.cluster.addrs")) > 0) {
		return ""
	}
	return p.url("redis.url", "redis", "rediss", "unix")
}

// list reads a YAML list or a comma- or space-separated string.
func (p *parser) list(key string) []string {
	var items []string
	switch x := p.v.Get(key).(type) {
	case string:
		items = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' })
	case []any:
		for _, it := range x {
			items = append(items, fmt.Sprint(it))
		}
	case []string:
		items = x
	}
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

func (p *parser) hostPorts(key string) []string {
	out := p.list(key)
	for _, a := range out {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			p.bad(key, "holds "+strconv.Quote(a)+", which is not host:port")
		}
	}
	return out
}

func (p *parser) prefixes(key string) []netip.Prefix {
	raw := p.v.Get(key)
	var items []string
	switch x := raw.(type) {
	case string:
		items = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' })
	case []any:
		for _, it := range x {
			items = append(items, fmt.Sprint(it))
		}
	case []string:
		items = x
	}
	var out []netip.Prefix
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		pr, err := netip.ParsePrefix(it)
		if err != nil {
			a, aerr := netip.ParseAddr(it)
			if aerr != nil {
				p.bad(key, "holds "+strconv.Quote(it)+", which is not a CIDR")
				continue
			}
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pr.Masked())
	}
	return out
}
