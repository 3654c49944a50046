package main

// The bench itself runs with `make bench` (or `go run ./bench -quick`); these
// tests cover the arithmetic its figures rest on.

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond) // unsorted on purpose
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if d[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestNewStat(t *testing.T) {
	s := newStat([]float64{3, 1, 2})
	if s.Median != 2 || s.Min != 1 || s.Max != 3 || s.Runs[0] != 3 {
		t.Errorf("got %+v", s)
	}
	if s := newStat([]float64{4, 1, 2, 3}); s.Median != 2.5 {
		t.Errorf("even count: median %v, want 2.5", s.Median)
	}
	if s := newStat(nil); s.Runs == nil || s.Median != 0 {
		t.Errorf("empty: %+v", s)
	}
}

func TestRatiosPairRuns(t *testing.T) {
	got := ratios([]float64{10, 20, 30}, []float64{20, 0, 30})
	if len(got) != 2 || got[0] != 0.5 || got[1] != 1 {
		t.Errorf("got %v, want [0.5 1] (zero baseline left out)", got)
	}
}

func TestTargetsAndJudge(t *testing.T) {
	f := withBaseline(figure{Name: "x", Unit: "/s", Target: ratioAtLeast(0.97)}, "base/s", []float64{96, 99, 98}, []float64{100, 100, 100})
	f.judge()
	if f.Met == nil || !*f.Met || f.Ratio.Median != 0.98 {
		t.Errorf("ratio 0.98 vs >= 0.97: met %v, ratio %+v", f.Met, f.Ratio)
	}
	g := figure{Unit: "ms", Value: newStat([]float64{41}), Target: valueAtMost(40)}
	g.judge()
	if g.Met == nil || *g.Met {
		t.Error("41 ms met <= 40 ms")
	}
	h := figure{Unit: "ms", Value: newStat([]float64{1})}
	h.judge()
	if h.Met != nil {
		t.Error("a figure without target was judged")
	}
	if s := valueBelow(5).text("ms"); s != "< 5.00 ms" {
		t.Errorf("text %q", s)
	}
	if s := valueIs(1).text("yes/no"); s != "yes" {
		t.Errorf("text %q", s)
	}
	cells := f.cells()
	if cells[2] != "98.0 [96.0–99.0] /s" || cells[4] != "0.980 [0.960–0.990]" || cells[6] != "yes" {
		t.Errorf("cells %q", cells)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234.6: "1235", 56.78: "56.8", 3.14159: "3.14", 0.0312: "0.031", math.NaN(): "n/a"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRateSkipsWarmUpAndDrain(t *testing.T) {
	r := &loadResult{window: 2 * time.Second, warm: 500 * time.Millisecond}
	for _, end := range []time.Duration{100 * time.Millisecond, 600 * time.Millisecond, time.Second, 1900 * time.Millisecond, 2100 * time.Millisecond} {
		r.samples = append(r.samples, sample{status: 200, end: end})
	}
	r.samples = append(r.samples, sample{status: 503, end: time.Second})
	if got := r.rate(200); got != 2 { // 3 answers in 1.5 s
		t.Errorf("rate %v, want 2", got)
	}
	if got := r.count(200, 503); got != 6 {
		t.Errorf("count %d, want 6", got)
	}
	r.cpu = 600 * time.Millisecond
	if got := r.cpuPer(200); got != 120*time.Millisecond {
		t.Errorf("cpuPer %v, want 120ms (all CPU over the 200s, drain included)", got)
	}
}

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (idp (serve) x) S 4200 4242 4200 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 12345 1000000 5000 18446744073709551615"
	s, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if s.ppid != 4200 || s.cpu != 3250*time.Millisecond {
		t.Errorf("got %+v, want ppid 4200 and 3.25s", s)
	}
	if _, err := parseStat("4242 idp S 1"); err == nil {
		t.Error("malformed line accepted")
	}
}

func TestParseStatus(t *testing.T) {
	text := strings.Join([]string{"Name:\tidp", "VmPeak:\t  900000 kB", "VmHWM:\t   30720 kB", "VmRSS:\t   18432 kB", "Threads:\t9"}, "\n")
	m, err := parseStatus(text)
	if err != nil {
		t.Fatal(err)
	}
	if m.HWM != 30<<20 || m.RSS != 18<<20 {
		t.Errorf("got %+v", m)
	}
	if _, err := parseStatus("Name:\tidp\n"); err == nil {
		t.Error("status without VmRSS accepted")
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal: busy = 100+1+20+3+4+2.
	if got := parseMachineCPU("cpu  100 1 20 5000 7 3 4 2 0 0"); got != 1300*time.Millisecond {
		t.Errorf("got %v, want 1.3s", got)
	}
	if got := parseMachineCPU("intr 1 2 3"); got != 0 {
		t.Errorf("not a cpu line: got %v", got)
	}
}
