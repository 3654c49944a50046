// Command bench measures idp on this machine (`make bench`): it starts its
// own PostgreSQL, Redis and `idp serve`, runs the scenarios of issue 6
// (login, isolation, refresh, /me, JWKS and discovery, timing oracle), the
// OpenID Connect code flow of issue 11 (S6) and
// the verify package of issue 12 (throughput, unknown-kid refetches),
// each beside a baseline measured in the same run, and prints one table.
// The same figures go to bench/out/results.json (and results.md).
//
// Shared machines are noisy, so absolute numbers say little: every figure
// stands next to a baseline run right before it, and the ratio is the
// result. Each scenario runs -runs times, interleaved with its baseline;
// the table shows the median and the range. The bench reports targets; it
// never fails because one is missed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	only  string
	env   envFlag
	quick bool
	bin   string
	out   string
	cost  int
	users int
	runs  int
	// scale runs the million-user comparison instead (make bench-scale).
	scale      bool
	scaleUsers int
	// scaleJanitor keeps the janitor on during -scale's large pass.
	scaleJanitor bool
	// soak runs the soak for this long instead (make soak).
	soak time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "smoke run of about a minute: short runs, one repetition")
	fs.StringVar(&o.bin, "bin", "bin/idp", "idp binary (relative paths start at the module root); built when missing")
	fs.StringVar(&o.out, "out", "bench/out", "directory for results.json and results.md")
	fs.IntVar(&o.cost, "cost", 10, "bcrypt cost of the login scenarios")
	fs.IntVar(&o.users, "users", 200, "users to seed")
	fs.IntVar(&o.runs, "runs", 0, "repetitions of each scenario (default 3, or 1 with -quick)")
	fs.BoolVar(&o.scale, "scale", false, "million-user run (make bench-scale): S1, S3 and S4 on the small data set, then again beside -scale-users generated users")
	fs.IntVar(&o.scaleUsers, "scale-users", 1_000_000, "users to generate with -scale (3 sessions and 10 refresh tokens each)")
	fs.BoolVar(&o.scaleJanitor, "scale-janitor", false, "with -scale: keep the janitor on during the large pass, so the scenarios run beside its first catch-up")
	fs.DurationVar(&o.soak, "soak", 0, "soak instead of the bench (make soak): mixed load for this long, then the pass criteria (docs/capacity.md, \"Soak\")")
	fs.StringVar(&o.only, "only", "", "comma-separated subset of s1,s2,s3,s4 (S4 and S5 run together),s6 (code flow),s7 (sign-in page),verify,oracle,reset; for experiments")
	fs.Var(&o.env, "env", "KEY=VALUE added to the environment of every idp process, for experiments\n(e.g. -env GOMAXPROCS=3 -env IDP_SECURITY_MAX_CONCURRENT_HASHES=1); repeatable")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, name := range strings.Split(o.only, ",") {
		if name != "" && !slices.Contains([]string{"s1", "s2", "s3", "s4", "s6", "s7", "verify", "oracle", "reset"}, name) {
			return o, fmt.Errorf("-only: unknown scenario %q (want s1, s2, s3, s4, s6, s7, verify, oracle or reset)", name)
		}
	}
	if o.users < 32 {
		return o, errors.New("-users must be at least 32 (S3 and S4 log in 16 distinct users each)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	started := time.Now()
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	p := fullPlan
	if o.quick {
		p = quickPlan
	}
	if o.runs > 0 {
		p.runs = o.runs
	}
	p = p.withDefaults()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	bin, out := underRoot(root, o.bin), underRoot(root, o.out)
	if err := ensureBinary(ctx, root, bin); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Traversable by the postgres user, so services.sh keeps the data
	// directory inside tmp instead of a /tmp/idp-pg.* of its own. Nothing
	// secret is written here: secrets go to the children's environment.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}

	// Stopped on every way out, Ctrl-C included: the signal only cancels
	// ctx, and these defers run as run returns.
	svc, err := startServices(ctx, root, filepath.Join(tmp, "services"))
	defer svc.stop()
	if err != nil {
		return err
	}
	sec := newSecrets()
	env := idpEnv{bin: bin, dir: tmp, vars: map[string]string{
		"IDP_DATABASE_URL":                 svc.DatabaseURL,
		"IDP_REDIS_URL":                    svc.RedisURL,
		"IDP_SECURITY_PEPPER":              sec.pepper,
		"IDP_KEYS_ENCRYPTION_KEY":          sec.key,
		"IDP_SECURITY_BCRYPT_COST":         strconv.Itoa(o.cost),
		"IDP_RATELIMIT_IP_PER_MINUTE":      "0",    // all traffic comes from 127.0.0.1
		"IDP_LOCKOUT_MAX_ATTEMPTS":         "1000", // S1's wrong passwords must not lock the bench users
		"IDP_LOCKOUT_ACCOUNT_MAX_ATTEMPTS": "100000",
		"IDP_MAIL_FILE_PATH":               filepath.Join(tmp, "mail.jsonl"),
		// S6 prepares codes ahead of its exchange-only runs.
		"IDP_OIDC_CODE_TTL": "10m",
	}}
	for _, kv := range o.env {
		k, v, _ := strings.Cut(kv, "=")
		env.vars[k] = v
	}
	b := &bench{ctx: ctx, plan: p, log: stderr, env: env, svc: svc, sec: sec, users: o.users,
		cores: runtime.GOMAXPROCS(0), runs: map[string][]runDetail{}, noise: series{},
		selected: func(name string) bool { return o.only == "" || slices.Contains(strings.Split(o.only, ","), name) }}
	loadStart := loadAverage()

	db, err := prepare(b, o.cost)
	if err != nil {
		return err
	}
	defer db.Close()

	logPath := filepath.Join(tmp, "idp-serve.log")
	if o.soak > 0 {
		return b.runSoak(db, o.soak, o.cost, logPath, stdout, out)
	}
	if err := b.measureStartup(logPath); err != nil {
		return err
	}
	if o.scale {
		p = scalePlan(o.quick)
		b.plan = p
		out = scaleOut(out)
		err := b.scaleRun(db, o.scaleUsers, o.scaleJanitor, logPath)
		b.srv.stop()
		if err != nil {
			return err
		}
	} else {
		if err := b.scenarios(); err != nil {
			return err
		}
		if err := b.runOracle(logPath); err != nil {
			return err
		}
	}
	if b.selected("reset") {
		b.logf("reset-initiate timing, %d requests per class, SMTP sink taking %s per mail", p.resetPerClass, smtpDelay)
		if err := b.resetTiming(logPath); err != nil {
			return err
		}
	}

	res := &results{
		Meta: meta{
			Date: started.UTC().Format(time.RFC3339), CPU: cpuModel(), Cores: runtime.NumCPU(),
			GoVersion: runtime.Version(), Quick: o.quick, ServerEnv: o.env, Runs: p.runs, BcryptCost: o.cost, Users: o.users,
			LoadAvgStart: loadStart, LoadAvgEnd: loadAverage(), DurationSeconds: time.Since(started).Seconds(),
		},
		Figures: baselinesFirst(b.figs),
		Runs:    b.runs,
	}
	fmt.Fprintf(stdout, "\nidp bench, %s, %s (%d cores), bcrypt cost %d, %d run(s) per figure\n",
		res.Meta.Date, res.Meta.CPU, res.Meta.Cores, o.cost, p.runs)
	if len(o.env) > 0 {
		fmt.Fprintf(stdout, "experiment: idp runs with %s\n", o.env.String())
	}
	fmt.Fprintln(stdout)
	printTable(stdout, res.Figures)
	if err := writeResults(out, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nTotal %s; load average %s at start, %s at end. Figures in %s.\n",
		time.Since(started).Round(time.Second), loadStart, res.Meta.LoadAvgEnd, filepath.Join(out, "results.json"))
	return nil
}

// envFlag collects repeated -env KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(kv string) error {
	if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	*e = append(*e, kv)
	return nil
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// baselinesFirst moves the rows that are only baselines to the top.
func baselinesFirst(figs []figure) []figure {
	out := slices.Clone(figs)
	slices.SortStableFunc(out, func(a, b figure) int {
		rank := func(f figure) int {
			if f.Scenario == "baseline" {
				return 0
			}
			return 1
		}
		return rank(a) - rank(b)
	})
	return out
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run the bench from inside the repository")
		}
		dir = parent
	}
}

func underRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// ensureBinary builds the release binary as `make build` does when it is
// missing (`go run ./bench` without make). `make bench` always rebuilds.
func ensureBinary(ctx context.Context, root, bin string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/idp")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/idp: %w", err)
	}
	return nil
}
