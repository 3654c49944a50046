package main

import (
	"strings"
	"testing"
	"time"
)

// steadySoak is a 10-minute run that passes every criterion: flat memory
// and goroutines, steady latencies, tables that stopped growing at 4 min.
func steadySoak() soakData {
	d := soakData{duration: 10 * time.Minute, steady: 4 * time.Minute, ops: map[string][]sample{}}
	for t := time.Duration(0); t < d.duration; t += 100 * time.Millisecond {
		d.ops["/me"] = append(d.ops["/me"], sample{status: 200, lat: 2 * time.Millisecond, end: t})
		d.ops["login"] = append(d.ops["login"], sample{status: 400, lat: 80 * time.Millisecond, end: t})
	}
	for t := time.Duration(0); t < d.duration; t += 5 * time.Second {
		rows := int64(5000)
		if t < d.steady {
			rows = int64(t / time.Second * 20)
		}
		d.probes = append(d.probes, probe{at: t, rss: 30 << 20, goroutines: 40, tables: map[string]int64{"sessions": rows}})
	}
	return d
}

func judged(t *testing.T, cs []criterion, prefix string) bool {
	t.Helper()
	for _, c := range cs {
		if strings.HasPrefix(c.Name, prefix) {
			if c.Pass == nil {
				t.Fatalf("%s: not judged (%s)", c.Name, c.Value)
			}
			return *c.Pass
		}
	}
	t.Fatalf("no criterion %q in %+v", prefix, cs)
	return false
}

// TestSoakCriteria: each criterion passes on a steady run and fails on
// the one change it exists to catch.
func TestSoakCriteria(t *testing.T) {
	for _, tt := range []struct {
		name     string
		change   func(*soakData)
		criteria string // prefix of the criterion that must fail
	}{
		{"a 503", func(d *soakData) { d.ops["login"][300].status = 503 }, "5xx answers"},
		{"a timeout", func(d *soakData) { d.ops["/me"][10].status = statusTimeout }, "5xx answers"},
		{"RSS grows 15 %", func(d *soakData) {
			for i := range d.probes {
				if d.probes[i].at >= 9*time.Minute {
					d.probes[i].rss = 30 << 20 * 115 / 100
				}
			}
		}, "RSS"},
		{"goroutines leak", func(d *soakData) {
			for i := range d.probes {
				d.probes[i].goroutines = 40 + float64(d.probes[i].at/time.Second)/10
			}
		}, "goroutines"},
		{"/me p99 doubles", func(d *soakData) {
			for i, s := range d.ops["/me"] {
				if s.end >= 9*time.Minute {
					d.ops["/me"][i].lat = 5 * time.Millisecond
				}
			}
		}, "p99 of /me"},
		{"sessions keep growing", func(d *soakData) {
			for i := range d.probes {
				d.probes[i].tables["sessions"] = int64(d.probes[i].at / time.Second * 20)
			}
		}, "rows of sessions"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			steady := evaluate(steadySoak())
			if !judged(t, steady, tt.criteria) || !allPassed(steady) {
				t.Fatalf("the steady run fails: %+v", steady)
			}
			d := steadySoak()
			tt.change(&d)
			cs := evaluate(d)
			if judged(t, cs, tt.criteria) || allPassed(cs) {
				t.Fatalf("%s passed: %+v", tt.criteria, cs)
			}
		})
	}
}

// TestSoakCriteriaShortRun: a run under 3 minutes is judged on its answers
// only, and a table whose steady state comes too late is not judged.
func TestSoakCriteriaShortRun(t *testing.T) {
	d := steadySoak()
	d.duration = 2 * time.Minute
	cs := evaluate(d)
	if len(cs) != 2 || cs[0].Pass == nil || !*cs[0].Pass || cs[1].Pass != nil {
		t.Fatalf("%+v", cs)
	}
	d = steadySoak()
	d.steady = 9 * time.Minute
	for _, c := range evaluate(d) {
		if strings.HasPrefix(c.Name, "rows of") && c.Pass != nil {
			t.Fatalf("%s judged before its steady state: %+v", c.Name, c)
		}
	}
	var out strings.Builder
	printCriteria(&out, cs)
	if !strings.Contains(out.String(), "not judged") || !strings.Contains(criteriaMarkdown(cs), "| 5xx answers") {
		t.Fatalf("table:\n%s", out.String())
	}
}
