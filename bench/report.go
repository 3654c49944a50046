package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// target is a goal printed beside a figure. The bench reports; it doesn't
// fail when a target is missed.
type target struct {
	On    string  `json:"on"` // "ratio" or "value"
	Op    string  `json:"op"` // ">=", "<=", "<" or "=="
	Limit float64 `json:"limit"`
}

func ratioAtLeast(x float64) *target { return &target{On: "ratio", Op: ">=", Limit: x} }
func ratioAtMost(x float64) *target  { return &target{On: "ratio", Op: "<=", Limit: x} }
func valueAtMost(x float64) *target  { return &target{On: "value", Op: "<=", Limit: x} }
func valueBelow(x float64) *target   { return &target{On: "value", Op: "<", Limit: x} }
func valueIs(x float64) *target      { return &target{On: "value", Op: "==", Limit: x} }

func (t *target) met(v float64) bool {
	switch t.Op {
	case ">=":
		return v >= t.Limit
	case "<=":
		return v <= t.Limit
	case "<":
		return v < t.Limit
	default:
		return v == t.Limit
	}
}

func (t *target) text(unit string) string {
	op := map[string]string{">=": "≥", "<=": "≤", "<": "<", "==": "="}[t.Op]
	if t.On == "ratio" {
		return "ratio " + op + " " + num(t.Limit)
	}
	if unit == "yes/no" {
		return map[float64]string{0: "no", 1: "yes"}[t.Limit]
	}
	return op + " " + num(t.Limit) + " " + unit
}

// figure is one row of the results.
type figure struct {
	Scenario     string  `json:"scenario"`
	Name         string  `json:"figure"`
	Unit         string  `json:"unit"`
	Value        stat    `json:"value"`
	BaselineName string  `json:"baseline_name,omitempty"`
	Baseline     *stat   `json:"baseline,omitempty"`
	Ratio        *stat   `json:"ratio,omitempty"`
	Target       *target `json:"target,omitempty"`
	Met          *bool   `json:"met,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// judge sets Met from the median of what the target is on.
func (f *figure) judge() {
	if f.Target == nil {
		return
	}
	v := f.Value.Median
	if f.Target.On == "ratio" {
		if f.Ratio == nil {
			return
		}
		v = f.Ratio.Median
	}
	met := f.Target.met(v)
	f.Met = &met
}

type meta struct {
	Date            string   `json:"date"`
	CPU             string   `json:"cpu"`
	Cores           int      `json:"cores"`
	GoVersion       string   `json:"go_version"`
	Quick           bool     `json:"quick"`
	ServerEnv       []string `json:"server_env,omitempty"` // -env experiments
	Runs            int      `json:"runs"`
	BcryptCost      int      `json:"bcrypt_cost"`
	Users           int      `json:"users"`
	LoadAvgStart    string   `json:"loadavg_start"`
	LoadAvgEnd      string   `json:"loadavg_end"`
	DurationSeconds float64  `json:"duration_seconds"`
}

type results struct {
	Meta    meta     `json:"meta"`
	Figures []figure `json:"figures"`
	// Runs holds the raw per-run details (status counts, latencies) by
	// scenario, for digging into a surprising figure.
	Runs map[string][]runDetail `json:"runs"`
}

// runDetail describes one load run.
type runDetail struct {
	Name      string      `json:"name"`
	Seconds   float64     `json:"seconds"`
	Codes     map[int]int `json:"codes"`
	P50MS     float64     `json:"p50_ms"`
	P99MS     float64     `json:"p99_ms"`
	CPUms     float64     `json:"server_cpu_ms"`
	DBCPUms   float64     `json:"db_cpu_ms"`
	ClientCPU float64     `json:"client_cpu_ms"`
	AllCPUms  float64     `json:"machine_cpu_ms"` // busy time of all cores
	// UnattributedPct is the share of all cores nobody of ours used.
	UnattributedPct float64 `json:"unattributed_cpu_pct"`
	ElapsedS        float64 `json:"elapsed_seconds"`
	Requested       int     `json:"requests"`
}

// num prints a figure with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// statText is "median [min–max]", or the median alone for a single run.
func statText(s stat) string {
	if len(s.Runs) <= 1 || s.Min == s.Max {
		return num(s.Median)
	}
	return num(s.Median) + " [" + num(s.Min) + "–" + num(s.Max) + "]"
}

func (f *figure) cells() []string {
	value := statText(f.Value) + " " + f.Unit
	if f.Unit == "yes/no" {
		value = map[bool]string{true: "yes", false: "no"}[f.Value.Median == 1]
	}
	base, ratio, tgt, met := "", "", "", ""
	if f.Baseline != nil {
		base = statText(*f.Baseline) + " " + f.BaselineName
	}
	if f.Ratio != nil {
		ratio = statText(*f.Ratio)
	}
	if f.Target != nil {
		tgt = f.Target.text(f.Unit)
	}
	if f.Met != nil {
		met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
	}
	return []string{f.Scenario, f.Name, strings.TrimSpace(value), base, ratio, strings.TrimSpace(tgt), met}
}

var tableHeader = []string{"scenario", "figure", "value: median [range]", "baseline", "ratio", "target", "met?"}

// legend says how to read the table, under it.
const legend = "Each ratio divides a run by the baseline run just before it; median [min–max] over the runs. " +
	"Targets are goals: the bench reports them and never fails on them."

func printTable(w io.Writer, figs []figure) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t"))
	for i := range figs {
		fmt.Fprintln(tw, strings.Join(figs[i].cells(), "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\n"+legend)
}

// markdownTable is the same table for docs/capacity.md.
func markdownTable(figs []figure) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(tableHeader)) + "\n")
	for i := range figs {
		b.WriteString("| " + strings.Join(figs[i].cells(), " | ") + " |\n")
	}
	return b.String()
}

// writeResults writes results.json and results.md into dir.
func writeResults(dir string, r *results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	md := fmt.Sprintf("Run of %s on %s (%d cores), Go %s, bcrypt cost %d, %d run(s) per figure, %.0f s in all; load average %s at start, %s at end.\n\n",
		r.Meta.Date, r.Meta.CPU, r.Meta.Cores, r.Meta.GoVersion, r.Meta.BcryptCost, r.Meta.Runs,
		r.Meta.DurationSeconds, r.Meta.LoadAvgStart, r.Meta.LoadAvgEnd)
	if len(r.Meta.ServerEnv) > 0 {
		md += "Experiment: idp ran with " + strings.Join(r.Meta.ServerEnv, " ") + ".\n\n"
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md+markdownTable(r.Figures)+"\n"+legend+"\n"), 0o644)
}
