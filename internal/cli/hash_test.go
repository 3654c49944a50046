package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runHash(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errBuf bytes.Buffer
	getenv := func(string) string { return "" } // no config: calibrate needs none
	code = Run(context.Background(), args, getenv, strings.NewReader(""), &out, &errBuf)
	return code, out.String(), errBuf.String()
}

func TestHashCalibrateJSON(t *testing.T) {
	code, out, stderr := runHash(t, "hash", "calibrate", "--target", "5ms", "--output", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var res struct {
		TargetMS        *float64 `json:"target_ms"`
		RecommendedCost *int     `json:"recommended_cost"`
		Costs           []struct {
			Cost                *int     `json:"cost"`
			MS                  *float64 `json:"ms"`
			LoginsPerSecPerCore *float64 `json:"logins_per_sec_per_core"`
		} `json:"costs"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if res.TargetMS == nil || *res.TargetMS != 5 {
		t.Errorf("target_ms = %v, want 5", res.TargetMS)
	}
	if res.RecommendedCost == nil || *res.RecommendedCost < 4 || *res.RecommendedCost > 14 {
		t.Fatalf("recommended_cost = %v, want 4..14", res.RecommendedCost)
	}
	if len(res.Costs) == 0 {
		t.Fatal("no costs measured")
	}
	last := res.Costs[len(res.Costs)-1]
	for i, c := range res.Costs {
		if c.Cost == nil || c.MS == nil || c.LoginsPerSecPerCore == nil {
			t.Fatalf("costs[%d] lacks a field: %s", i, out)
		}
		if *c.Cost != 4+i {
			t.Errorf("costs[%d].cost = %d, want %d (consecutive from 4)", i, *c.Cost, 4+i)
		}
		if *c.MS <= 0 || *c.LoginsPerSecPerCore <= 0 {
			t.Errorf("costs[%d] = %v ms, %v logins/s: want positive", i, *c.MS, *c.LoginsPerSecPerCore)
		}
		// The recommendation is the highest cost within the target.
		if *c.MS <= 5 && *c.Cost > *res.RecommendedCost {
			t.Errorf("cost %d took %v ms <= 5 ms but %d was recommended", *c.Cost, *c.MS, *res.RecommendedCost)
		}
	}
	// Measuring stops once a cost takes more than 4x the target (or at 14);
	// the 0.01 ms slack covers the rounding of "ms".
	if *last.MS < 19.99 && *last.Cost != 14 {
		t.Errorf("stopped at cost %d (%v ms), before any cost exceeded 4 x 5 ms", *last.Cost, *last.MS)
	}
	if n := len(res.Costs); n > 1 && *res.Costs[n-2].MS > 20.01 {
		t.Errorf("kept measuring after cost %d took %v ms > 4 x target", *res.Costs[n-2].Cost, *res.Costs[n-2].MS)
	}
}

func TestHashCalibrateText(t *testing.T) {
	code, out, stderr := runHash(t, "hash", "calibrate", "--target", "2ms")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"cost", "time per hash", "logins/s per core", "recommended", "Recommended: security.bcrypt_cost: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHashCalibrateBadTarget(t *testing.T) {
	for _, target := range []string{"soon", "0s", "-5ms"} {
		code, out, stderr := runHash(t, "hash", "calibrate", "--target", target)
		if code != ExitUsage {
			t.Errorf("--target %s: exit %d, want %d (stderr %q)", target, code, ExitUsage, stderr)
		}
		if out != "" {
			t.Errorf("--target %s: stdout %q, want nothing", target, out)
		}
		if !strings.Contains(stderr, "target") {
			t.Errorf("--target %s: stderr %q does not name the flag", target, stderr)
		}
	}
}

func TestHashUnknownSubcommand(t *testing.T) {
	if code, _, _ := runHash(t, "hash", "calibrat"); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
}
