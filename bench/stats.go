package main

import (
	"math"
	"slices"
	"time"
)

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of d; 0 for
// no samples. Nearest rank, not interpolation: with 300 samples, p99 is
// the 297th smallest, a latency some request really had.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// stat is a figure over the repetitions of a scenario.
type stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func newStat(runs []float64) stat {
	if len(runs) == 0 {
		return stat{Runs: []float64{}}
	}
	s := slices.Clone(runs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: med, Min: s[0], Max: s[len(s)-1], Runs: runs}
}

// ratios divides paired runs: each scenario run by the baseline run next
// to it, so a slow moment of the machine affects both sides of a ratio.
// A pair with a zero baseline has no ratio and is left out.
func ratios(value, base []float64) []float64 {
	out := make([]float64, 0, len(value))
	for i := range min(len(value), len(base)) {
		if base[i] != 0 {
			out = append(out, value[i]/base[i])
		}
	}
	return out
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// series collects one figure per repetition.
type series map[string][]float64

func (s series) add(key string, v float64) { s[key] = append(s[key], v) }
