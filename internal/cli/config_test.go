package cli

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	testPepper = "0123456789abcdef0123456789abcdef"
	// base64 of 32 zero bytes
	testKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

// required is the least environment that validates.
var required = map[string]string{
	"IDP_DATABASE_URL":        "postgres://idp@127.0.0.1:5432/idp?sslmode=disable",
	"IDP_REDIS_URL":           "redis://127.0.0.1:6379/0",
	"IDP_SECURITY_PEPPER":     testPepper,
	"IDP_KEYS_ENCRYPTION_KEY": testKey,
}

// getenv serves base overlaid by over; an empty value in over unsets.
func getenv(base map[string]string, over ...string) func(string) string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(over); i += 2 {
		m[over[i]] = over[i+1]
	}
	return func(k string) string { return m[k] }
}

// load runs loadConfig in an empty directory, so a config/idp.yaml of the
// developer's never leaks in. yaml, when not empty, is written to a file
// passed as --config.
func load(t *testing.T, yaml string, env func(string) string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	path := ""
	if yaml != "" {
		path = filepath.Join(dir, "idp.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return loadConfig(path, env)
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := load(t, "", getenv(required))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		DatabaseURL:               required["IDP_DATABASE_URL"],
		RedisURL:                  required["IDP_REDIS_URL"],
		HTTPAddr:                  "127.0.0.1:8080",
		HTTPShutdownGrace:         15 * time.Second,
		Issuer:                    "http://127.0.0.1:8080",
		Audience:                  "idp",
		AccessTTL:                 15 * time.Minute,
		RefreshTTL:                720 * time.Hour,
		RefreshIdleTTL:            168 * time.Hour,
		RefreshGrace:              10 * time.Second,
		ResetTTL:                  30 * time.Minute,
		Pepper:                    []byte(testPepper),
		BcryptCost:                12,
		MaxConcurrentHashes:       runtime.NumCPU(),
		EncryptionKey:             make([]byte, 32),
		KeyPollInterval:           2 * time.Second,
		JWKSMaxAge:                5 * time.Minute,
		LockoutMaxAttempts:        5,
		LockoutAccountMaxAttempts: 100,
		LockoutDuration:           15 * time.Minute,
		LockoutMaxDuration:        time.Hour,
		DeviceTokenTTL:            2160 * time.Hour,
		IPPerMinute:               120,
		IPv6Prefix:                64,
		PasswordMinLength:         12,
		DefaultTenant:             "default",
		SeedPasswordTTL:           24 * time.Hour,
		MailDriver:                "file",
		MailFilePath:              "./var/mail.jsonl",
		SMTP:                      SMTPConfig{Port: 587, StartTLS: true},
		LogLevel:                  "info",
		SessionRetention:          720 * time.Hour,
		AuditRetention:            9600 * time.Hour,
		MaintenanceInterval:       10 * time.Minute,
		BrowserSessionTTL:         12 * time.Hour,
		BrowserIdleTTL:            30 * time.Minute,
		BrowserRememberTTL:        720 * time.Hour,
		CodeTTL:                   time.Minute,
		UI:                        UIConfig{ProductName: "idp"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadConfigDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("config", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("config", "idp.yaml"), []byte("tokens:\n  audience: from-default-path\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig("", getenv(required))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience != "from-default-path" {
		t.Fatalf("./config/idp.yaml was not read: audience %q", c.Audience)
	}
}

func TestLoadConfigFileAndEnv(t *testing.T) {
	yaml := `
database:
  url: postgres://file@db:5432/idp
redis:
  url: redis://file:6379/1
issuer: https://id.example.com/
tokens:
  audience: from-file
  access_ttl: 5m
security:
  pepper: ` + testPepper + `
  bcrypt_cost: 10
keys:
  encryption_key: ` + testKey + `
lockout:
  max_attempts: 3
mail:
  driver: smtp
  smtp:
    host: smtp.example.com
    port: 2525
    from: idp@example.com
    starttls: false
`
	// The environment wins over the file, key by key.
	c, err := load(t, yaml, getenv(nil,
		"IDP_TOKENS_ACCESS_TTL", "2m",
		"IDP_LOCKOUT_MAX_ATTEMPTS", "7",
		"IDP_MAIL_SMTP_PORT", "465",
	))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"database.url (file)", c.DatabaseURL, "postgres://file@db:5432/idp"},
		{"redis.url (file)", c.RedisURL, "redis://file:6379/1"},
		{"issuer (trailing slash dropped)", c.Issuer, "https://id.example.com"},
		{"tokens.audience (file)", c.Audience, "from-file"},
		{"tokens.access_ttl (env over file)", c.AccessTTL, 2 * time.Minute},
		{"security.bcrypt_cost (file)", c.BcryptCost, 10},
		{"lockout.max_attempts (env over file)", c.LockoutMaxAttempts, 7},
		{"mail.driver (file)", c.MailDriver, "smtp"},
		{"mail.smtp.host (file)", c.SMTP.Host, "smtp.example.com"},
		{"mail.smtp.port (env over file)", c.SMTP.Port, 465},
		{"mail.smtp.starttls (file)", c.SMTP.StartTLS, false},
		{"tokens.refresh_ttl (default)", c.RefreshTTL, 720 * time.Hour},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadConfigExampleFile(t *testing.T) {
	// config/idp.example.yaml documents every key: it must hold only known
	// ones, with valid values once the secrets are supplied.
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "idp.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, string(example), getenv(nil,
		"IDP_SECURITY_PEPPER", testPepper, "IDP_KEYS_ENCRYPTION_KEY", testKey)); err != nil {
		t.Fatalf("example config: %v", err)
	}
	// ...and every key is in it.
	var doc map[string]any
	if err := yaml.Unmarshal(example, &doc); err != nil {
		t.Fatal(err)
	}
	for key := range defaults {
		var node any = doc
		for part := range strings.SplitSeq(key, ".") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node, ok = m[part]
			if !ok {
				node = nil
				break
			}
		}
		if node == nil {
			t.Errorf("config/idp.example.yaml lacks %s", key)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		env  []string // pairs over the required environment; "" unsets
		want []string // every one must appear in the error
	}{
		{name: "database.url missing", env: []string{"IDP_DATABASE_URL", ""}, want: []string{"database.url is required"}},
		{name: "database.url scheme", env: []string{"IDP_DATABASE_URL", "mysql://x/y"}, want: []string{"database.url must be a postgres or postgresql URL"}},
		{name: "database.url unparsable", env: []string{"IDP_DATABASE_URL", "postgres://x:%zz@y"}, want: []string{"database.url is not a valid URL"}},
		{name: "redis.url missing", env: []string{"IDP_REDIS_URL", ""}, want: []string{"redis.url is required"}},
		{name: "redis.url scheme", env: []string{"IDP_REDIS_URL", "http://x"}, want: []string{"redis.url must be a redis or rediss or unix URL"}},
		{name: "http.addr", env: []string{"IDP_HTTP_ADDR", "8080"}, want: []string{"http.addr must be host:port"}},
		{name: "http.shutdown_grace", env: []string{"IDP_HTTP_SHUTDOWN_GRACE", "soon"}, want: []string{"http.shutdown_grace is not a duration"}},
		{name: "http.trusted_proxies", env: []string{"IDP_HTTP_TRUSTED_PROXIES", "10.0.0.0/8,not-a-cidr"}, want: []string{`http.trusted_proxies holds "not-a-cidr", which is not a CIDR`}},
		{name: "issuer scheme", env: []string{"IDP_ISSUER", "ftp://x"}, want: []string{"issuer must be an http(s) base URL"}},
		{name: "issuer query", env: []string{"IDP_ISSUER", "https://x/?a=b"}, want: []string{"issuer must be an http(s) base URL"}},
		{name: "issuer empty in file", yaml: "issuer: \"\"\n", want: []string{"issuer must be an http(s) base URL"}},
		{name: "oidc.code_ttl short", env: []string{"IDP_OIDC_CODE_TTL", "1s"}, want: []string{"oidc.code_ttl must be at least 5s"}},
		{name: "oidc.code_ttl long", env: []string{"IDP_OIDC_CODE_TTL", "11m"}, want: []string{"oidc.code_ttl must be at most 10m"}},
		{name: "http.max_connections", env: []string{"IDP_HTTP_MAX_CONNECTIONS", "-1"}, want: []string{"http.max_connections must be between 0 and 1048576"}},
		{name: "tokens.audience empty", yaml: "tokens:\n  audience: \"\"\n", want: []string{"tokens.audience is required"}},
		{name: "tokens.access_ttl", env: []string{"IDP_TOKENS_ACCESS_TTL", "soon"}, want: []string{"tokens.access_ttl is not a duration (use Go syntax"}},
		{name: "tokens.access_ttl minimum", env: []string{"IDP_TOKENS_ACCESS_TTL", "500ms"}, want: []string{"tokens.access_ttl must be at least 1s"}},
		{name: "tokens.refresh_ttl minimum", env: []string{"IDP_TOKENS_REFRESH_TTL", "30s"}, want: []string{"tokens.refresh_ttl must be at least 1m0s"}},
		{name: "tokens.refresh_idle_ttl", env: []string{"IDP_TOKENS_REFRESH_IDLE_TTL", "x"}, want: []string{"tokens.refresh_idle_ttl is not a duration"}},
		{name: "tokens.refresh_idle_ttl over refresh_ttl", env: []string{"IDP_TOKENS_REFRESH_TTL", "1h", "IDP_TOKENS_REFRESH_IDLE_TTL", "2h"}, want: []string{"tokens.refresh_idle_ttl must not be longer than tokens.refresh_ttl"}},
		{name: "tokens.refresh_grace negative", env: []string{"IDP_TOKENS_REFRESH_GRACE", "-1s"}, want: []string{"tokens.refresh_grace must be at least 0s"}},
		{name: "tokens.reset_ttl", env: []string{"IDP_TOKENS_RESET_TTL", "1s"}, want: []string{"tokens.reset_ttl must be at least 1m0s"}},
		{name: "security.pepper missing", env: []string{"IDP_SECURITY_PEPPER", ""}, want: []string{"security.pepper is required (at least 32 bytes)"}},
		{name: "security.pepper short", env: []string{"IDP_SECURITY_PEPPER", "short-pepper"}, want: []string{"security.pepper must be at least 32 bytes"}},
		{name: "security.bcrypt_cost range", env: []string{"IDP_SECURITY_BCRYPT_COST", "3"}, want: []string{"security.bcrypt_cost must be between 4 and 31"}},
		{name: "security.bcrypt_cost number", env: []string{"IDP_SECURITY_BCRYPT_COST", "high"}, want: []string{"security.bcrypt_cost is not a whole number"}},
		{name: "security.max_concurrent_hashes", env: []string{"IDP_SECURITY_MAX_CONCURRENT_HASHES", "0"}, want: []string{"security.max_concurrent_hashes must be between 1 and 1024"}},
		{name: "keys.encryption_key missing", env: []string{"IDP_KEYS_ENCRYPTION_KEY", ""}, want: []string{"keys.encryption_key is required (base64 of 32 random bytes)"}},
		{name: "keys.encryption_key not base64", env: []string{"IDP_KEYS_ENCRYPTION_KEY", "not base64!"}, want: []string{"keys.encryption_key must be base64 of exactly 32 bytes"}},
		{name: "keys.encryption_key length", env: []string{"IDP_KEYS_ENCRYPTION_KEY", "AAAA"}, want: []string{"keys.encryption_key must be base64 of exactly 32 bytes"}},
		{name: "keys.poll_interval", env: []string{"IDP_KEYS_POLL_INTERVAL", "1ms"}, want: []string{"keys.poll_interval must be at least 100ms"}},
		{name: "keys.jwks_max_age", env: []string{"IDP_KEYS_JWKS_MAX_AGE", "500ms"}, want: []string{"keys.jwks_max_age must be at least 1s"}},
		{name: "lockout.max_attempts", env: []string{"IDP_LOCKOUT_MAX_ATTEMPTS", "0"}, want: []string{"lockout.max_attempts must be between 1 and 1000"}},
		{name: "lockout.duration", env: []string{"IDP_LOCKOUT_DURATION", "forever"}, want: []string{"lockout.duration is not a duration"}},
		{name: "lockout.max_duration under duration", env: []string{"IDP_LOCKOUT_DURATION", "2h"}, want: []string{"lockout.max_duration must not be shorter than lockout.duration"}},
		{name: "ratelimit.ip_per_minute", env: []string{"IDP_RATELIMIT_IP_PER_MINUTE", "-1"}, want: []string{"ratelimit.ip_per_minute must be between 0 and 1000000"}},
		{name: "password.min_length", env: []string{"IDP_PASSWORD_MIN_LENGTH", "6"}, want: []string{"password.min_length must be between 8 and 64"}},
		{name: "tenants.default", env: []string{"IDP_TENANTS_DEFAULT", "Not_A_Slug"}, want: []string{"tenants.default must be 1-63 lowercase letters, digits or hyphens"}},
		{name: "mail.driver", env: []string{"IDP_MAIL_DRIVER", "carrier-pigeon"}, want: []string{"mail.driver must be one of file, smtp"}},
		{name: "mail.file_path empty", yaml: "mail:\n  file_path: \"\"\n", want: []string{"mail.file_path is required with mail.driver file"}},
		{name: "smtp without host and from", env: []string{"IDP_MAIL_DRIVER", "smtp"}, want: []string{"mail.smtp.host is required with mail.driver smtp", "mail.smtp.from is required with mail.driver smtp"}},
		{name: "mail.smtp.port", env: []string{"IDP_MAIL_SMTP_PORT", "70000"}, want: []string{"mail.smtp.port must be between 1 and 65535"}},
		{name: "mail.smtp.starttls", env: []string{"IDP_MAIL_SMTP_STARTTLS", "maybe"}, want: []string{"mail.smtp.starttls must be true or false"}},
		{name: "seed.password_ttl", env: []string{"IDP_SEED_PASSWORD_TTL", "1s"}, want: []string{"seed.password_ttl must be at least 1m0s"}},
		{name: "redis.sentinel.addrs without master", env: []string{"IDP_REDIS_SENTINEL_ADDRS", "127.0.0.1:26379"}, want: []string{"redis.sentinel.master is required with redis.sentinel.addrs"}},
		{name: "redis.sentinel.master without addrs", env: []string{"IDP_REDIS_SENTINEL_MASTER", "idp"}, want: []string{"redis.sentinel.addrs is required with redis.sentinel.master"}},
		{name: "redis cluster and sentinel", env: []string{"IDP_REDIS_CLUSTER_ADDRS", "10.0.0.1:6379", "IDP_REDIS_SENTINEL_MASTER", "idp", "IDP_REDIS_SENTINEL_ADDRS", "10.0.0.2:26379"},
			want: []string{"redis.cluster.addrs can't be combined with redis.sentinel.*"}},
		{name: "redis.cluster.addrs not host:port", env: []string{"IDP_REDIS_CLUSTER_ADDRS", "10.0.0.1:6379,nohost"}, want: []string{`redis.cluster.addrs holds "nohost", which is not host:port`}},
		{name: "retention.sessions", env: []string{"IDP_RETENTION_SESSIONS", "30s"}, want: []string{"retention.sessions must be at least 1m0s"}},
		{name: "retention.audit", env: []string{"IDP_RETENTION_AUDIT", "-1h"}, want: []string{"retention.audit must be at least 0s"}},
		{name: "maintenance.interval", env: []string{"IDP_MAINTENANCE_INTERVAL", "10ms"}, want: []string{"maintenance.interval must be 0 (off) or at least 1s"}},
		{name: "log.level", env: []string{"IDP_LOG_LEVEL", "loud"}, want: []string{"log.level must be one of debug, info, warn, error"}},
		{name: "unknown keys in the file", yaml: "tokens:\n  acess_ttl: 5m\nfrobnicate: true\n",
			want: []string{"frobnicate is not a known setting", "tokens.acess_ttl is not a known setting"}},
		{name: "file not YAML", yaml: "database: [unclosed\n", want: []string{"cannot be read as YAML"}},
		{name: "every bad key at once",
			env:  []string{"IDP_DATABASE_URL", "", "IDP_SECURITY_PEPPER", "short", "IDP_KEYS_ENCRYPTION_KEY", "nope", "IDP_TOKENS_ACCESS_TTL", "soon"},
			want: []string{"database.url", "security.pepper", "keys.encryption_key", "tokens.access_ttl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := getenv(required, c.env...)
			c2, err := load(t, c.yaml, env)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got config %+v, err %v", c2, err)
			}
			if exitCode(err) != ExitUsage {
				t.Errorf("exit code %d, want %d", exitCode(err), ExitUsage)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			// Secret values, good or bad, are never echoed.
			for _, k := range []string{"IDP_SECURITY_PEPPER", "IDP_KEYS_ENCRYPTION_KEY", "IDP_DATABASE_URL"} {
				if v := env(k); v != "" && strings.Contains(msg, v) {
					t.Errorf("error %q shows the value of %s", msg, k)
				}
			}
		})
	}
}

// TestLoadConfigIssuer: the issuer is normalized to the spelling a
// browser's Origin header uses; a path prefix and other things idp can't
// serve are refused, naming the key.
func TestLoadConfigIssuer(t *testing.T) {
	for _, tc := range []struct {
		in, want, bad string
	}{
		{in: "https://id.example.com", want: "https://id.example.com"},
		{in: "https://ID.Example.com:443", want: "https://id.example.com"},
		{in: "HTTPS://id.example.COM/", want: "https://id.example.com"},
		{in: "https://id.example.com//", want: "https://id.example.com"},
		{in: "https://id.example.com:", want: "https://id.example.com"},
		{in: "https://id.example.com:8443", want: "https://id.example.com:8443"},
		{in: "https://id.example.com:80", want: "https://id.example.com:80"},
		{in: "http://id.example.com:80/", want: "http://id.example.com"},
		{in: "http://id.example.com:0443", want: "http://id.example.com:443"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "https://[2001:DB8::1]:443", want: "https://[2001:db8::1]"},
		{in: "http://[::1]:8080/", want: "http://[::1]:8080"},
		{in: "https://id.example.com/auth", bad: "issuer must not have a path"},
		{in: "https://id.example.com/auth/", bad: "issuer must not have a path"},
		{in: "https://example.com/%2F", bad: "issuer must not have a path"},
		{in: "https://admin:pw@id.example.com", bad: "issuer must not hold a user name or password"},
		{in: "https://bücher.example", bad: "issuer must name its host in ASCII"},
		{in: "https://id.example.com:99999", bad: "issuer has an invalid port"},
		{in: "https://id.example.com?", bad: "issuer must be an http(s) base URL without query or fragment"},
		{in: "https://id.example.com/#top", bad: "issuer must be an http(s) base URL without query or fragment"},
		{in: "https:id.example.com", bad: "issuer must be an http(s) base URL without query or fragment"},
		{in: "//id.example.com", bad: "issuer must be an http(s) base URL without query or fragment"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c, err := load(t, "", getenv(required, "IDP_ISSUER", tc.in))
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("issuer %q: error %v, want one containing %q", tc.in, err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != tc.want {
				t.Fatalf("issuer %q normalized to %q, want %q", tc.in, c.Issuer, tc.want)
			}
		})
	}
}

func TestLoadConfigMaxConnections(t *testing.T) {
	for in, want := range map[string]int{"": 0, "0": 0, "500": 500} {
		c, err := load(t, "", getenv(required, "IDP_HTTP_MAX_CONNECTIONS", in))
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTPMaxConnections != want {
			t.Fatalf("http.max_connections %q = %d, want %d", in, c.HTTPMaxConnections, want)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), getenv(required))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadConfigTrustedProxies(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	cases := []struct {
		name string
		yaml string
		env  string
		want []netip.Prefix
	}{
		{name: "default is empty"},
		{name: "yaml list", yaml: "http:\n  trusted_proxies: [\"10.0.0.0/8\", \"192.168.1.7\", \"2001:db8::/32\"]\n",
			want: pfx("10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32")},
		{name: "yaml block list", yaml: "http:\n  trusted_proxies:\n    - 172.16.0.0/12\n    - ::1\n",
			want: pfx("172.16.0.0/12", "::1/128")},
		{name: "yaml comma string", yaml: "http:\n  trusted_proxies: \"10.0.0.0/8, 127.0.0.1\"\n",
			want: pfx("10.0.0.0/8", "127.0.0.1/32")},
		{name: "env comma string", env: "10.0.0.0/8, 2001:db8::/32,127.0.0.1",
			want: pfx("10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32")},
		{name: "env overrides yaml list", yaml: "http:\n  trusted_proxies: [\"10.0.0.0/8\"]\n", env: "192.168.0.0/16",
			want: pfx("192.168.0.0/16")},
		{name: "host bits are masked", env: "10.1.2.3/8", want: pfx("10.0.0.0/8")},
		{name: "empty yaml list", yaml: "http:\n  trusted_proxies: []\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c2, err := load(t, c.yaml, getenv(required, "IDP_HTTP_TRUSTED_PROXIES", c.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c2.TrustedProxies, c.want) {
				t.Fatalf("trusted proxies %v, want %v", c2.TrustedProxies, c.want)
			}
		})
	}
}

// TestLoadConfigRedisTopology: Sentinel or Cluster make redis.url optional;
// lists come as YAML lists or comma-separated strings.
func TestLoadConfigRedisTopology(t *testing.T) {
	noURL := getenv(required, "IDP_REDIS_URL", "")
	c, err := load(t, "redis:\n  cluster:\n    addrs: [\"10.0.0.1:6379\", \"10.0.0.2:6379\"]\n", noURL)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "" || !reflect.DeepEqual(c.RedisClusterAddrs, []string{"10.0.0.1:6379", "10.0.0.2:6379"}) {
		t.Fatalf("cluster: url %q addrs %v", c.RedisURL, c.RedisClusterAddrs)
	}
	c, err = load(t, "", getenv(required, "IDP_REDIS_URL", "rediss://:pw@ignored:6379/2",
		"IDP_REDIS_SENTINEL_MASTER", "idp", "IDP_REDIS_SENTINEL_ADDRS", "10.0.0.1:26379, 10.0.0.2:26379"))
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisSentinelMaster != "idp" || len(c.RedisSentinelAddrs) != 2 || c.RedisURL == "" {
		t.Fatalf("sentinel: %+v", c)
	}
	if _, err := load(t, "", noURL); err == nil || !strings.Contains(err.Error(), "redis.url is required") {
		t.Fatalf("no redis at all: %v", err)
	}
}

// TestLoadConfigMetricsAddr: off by default; a listener of its own, so an
// address that would take http.addr's port is refused by name.
func TestLoadConfigMetricsAddr(t *testing.T) {
	for _, tt := range []struct {
		http, metrics string
		bad           string // "" when it must load
	}{
		{"127.0.0.1:8080", "", ""},
		{"127.0.0.1:8080", "127.0.0.1:9464", ""},
		{"127.0.0.1:8080", "10.0.0.5:8080", ""},
		{"127.0.0.1:0", "127.0.0.1:0", "metrics.addr must differ from http.addr"},
		{"127.0.0.1:8080", "127.0.0.1:8080", "metrics.addr must differ from http.addr"},
		{"127.0.0.1:8080", "0.0.0.0:8080", "metrics.addr must differ from http.addr"},
		{":8080", "localhost:8080", "metrics.addr must differ from http.addr"},
		{"[::1]:8080", "[::]:8080", "metrics.addr must differ from http.addr"},
		{"127.0.0.1:8080", "9464", "metrics.addr must be host:port"},
	} {
		c, err := load(t, "", getenv(required, "IDP_HTTP_ADDR", tt.http, "IDP_METRICS_ADDR", tt.metrics))
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("http %q metrics %q: %v", tt.http, tt.metrics, err)
		case tt.bad == "" && c.MetricsAddr != tt.metrics:
			t.Errorf("metrics.addr %q read as %q", tt.metrics, c.MetricsAddr)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("http %q metrics %q: error %v, want %q", tt.http, tt.metrics, err, tt.bad)
		}
	}
}
