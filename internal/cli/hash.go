package cli

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core/password"
)

func init() { extraCommands = append(extraCommands, newHashCmd) }

// Calibration bounds: bcrypt costs below 4 don't exist, and above 14 one
// hash takes about a second on current hardware, far beyond any sane login.
const (
	calibrateMinCost = 4
	calibrateMaxCost = 14
)

func newHashCmd(g *globals) *cobra.Command {
	cmd := group("hash", "Password hashing tools")
	cmd.AddCommand(newHashCalibrateCmd(g))
	return cmd
}

// CostTiming is one measured bcrypt cost.
type CostTiming struct {
	Cost                int     `json:"cost"`
	MS                  float64 `json:"ms"`
	LoginsPerSecPerCore float64 `json:"logins_per_sec_per_core"`
}

// Calibration is the answer of `idp hash calibrate`.
type Calibration struct {
	TargetMS        float64 `json:"target_ms"`
	RecommendedCost int     `json:"recommended_cost"`
	// RecommendedLoginsPerSecPerCore is the capacity the recommended cost
	// implies: one login is one bcrypt verification.
	RecommendedLoginsPerSecPerCore float64      `json:"recommended_logins_per_sec_per_core"`
	Costs                          []CostTiming `json:"costs"`
}

func newHashCalibrateCmd(g *globals) *cobra.Command {
	var target time.Duration
	cmd := &cobra.Command{
		Use:   "calibrate [--target 250ms]",
		Short: "Measure bcrypt time per cost on this machine and recommend security.bcrypt_cost",
		Long: "Measures how long one password hash takes at each bcrypt cost on this machine\n" +
			"(with the pepper step, as a login does) and recommends the highest cost whose\n" +
			"hash takes no longer than --target. Needs no configuration or database.\n" +
			"Run it on the production hardware, ideally while it is idle.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target <= 0 {
				return usageErr("--target must be a positive duration such as 250ms")
			}
			res, err := calibrate(target)
			if err != nil {
				return err
			}
			return g.print(res, func(p *printer) { printCalibration(p, res) })
		},
	}
	cmd.Flags().DurationVar(&target, "target", 250*time.Millisecond, "longest acceptable time for one password check")
	return cmd
}

// calibrate times each cost from the lowest up and stops once a cost takes
// more than four times the target: each cost doubles the time, so the
// higher ones can only be further off.
func calibrate(target time.Duration) (Calibration, error) {
	// A random pepper: the pepper's value doesn't change the work, and
	// this command must not need the configured secret.
	pepper := make([]byte, password.MinPepperBytes)
	if _, err := rand.Read(pepper); err != nil {
		return Calibration{}, err
	}
	res := Calibration{TargetMS: ms(target), RecommendedCost: calibrateMinCost}
	for cost := calibrateMinCost; cost <= calibrateMaxCost; cost++ {
		d, err := timeCost(pepper, cost, target)
		if err != nil {
			return Calibration{}, err
		}
		res.Costs = append(res.Costs, CostTiming{Cost: cost, MS: round2(ms(d)), LoginsPerSecPerCore: round2(float64(time.Second) / float64(d))})
		if d <= target {
			res.RecommendedCost = cost
		}
		if d > 4*target {
			break
		}
	}
	for _, c := range res.Costs {
		if c.Cost == res.RecommendedCost {
			res.RecommendedLoginsPerSecPerCore = c.LoginsPerSecPerCore
		}
	}
	return res, nil
}

// timeCost returns the median time of one hash at cost. It samples for at
// least 100 ms and three hashes, so cheap costs aren't timer noise, but
// stops after about a second: at the expensive costs one or two hashes say
// enough.
func timeCost(pepper []byte, cost int, target time.Duration) (time.Duration, error) {
	// NewHasher computes one hash at this cost itself, which also warms up.
	h, err := password.NewHasher(pepper, cost)
	if err != nil {
		return 0, err
	}
	pw := rand.Text()
	var samples []time.Duration
	var total time.Duration
	for {
		start := time.Now()
		if _, err := h.Hash(pw); err != nil {
			return 0, err
		}
		d := time.Since(start)
		samples = append(samples, d)
		total += d
		if len(samples) >= 3 && total >= 100*time.Millisecond {
			break
		}
		if total >= time.Second || total > 4*target {
			break
		}
	}
	slices.Sort(samples)
	return samples[len(samples)/2], nil
}

func printCalibration(p *printer, res Calibration) {
	rows := make([][]string, 0, len(res.Costs))
	for _, c := range res.Costs {
		mark := ""
		if c.Cost == res.RecommendedCost {
			mark = "recommended"
		}
		rows = append(rows, []string{
			strconv.Itoa(c.Cost),
			strconv.FormatFloat(c.MS, 'f', 1, 64) + " ms",
			strconv.FormatFloat(c.LoginsPerSecPerCore, 'f', 1, 64),
			mark,
		})
	}
	p.table([]string{"cost", "time per hash", "logins/s per core", ""}, rows)
	target := time.Duration(res.TargetMS * float64(time.Millisecond))
	if len(res.Costs) > 0 && res.Costs[0].MS > res.TargetMS {
		p.line(fmt.Sprintf("No cost hashes within %v on this machine; %d is the lowest bcrypt allows.", target, calibrateMinCost))
	}
	p.line(fmt.Sprintf("Recommended: security.bcrypt_cost: %d (≤ %v per login, about %.1f logins/s per core).",
		res.RecommendedCost, target, res.RecommendedLoginsPerSecPerCore))
	if res.RecommendedCost < 10 {
		p.line("Note: OWASP advises a bcrypt cost of at least 10; consider a longer --target or faster hardware.")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
