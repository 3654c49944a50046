package main

// The soak's pass criteria (issue 13, docs/capacity.md "Soak"): zero 5xx
// and no unanswered request; RSS of the last minute within 10 % of the
// second minute; goroutines flat; each operation's p99 in the last minute
// within 1.5x of the second minute; the tables the janitor prunes bounded.
// They compare the second minute, once start-up and the first connections
// are behind, with the last: a leak or a growing table shows as a
// difference between the two.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// soakData is what a soak recorded: every request by operation, and the
// probes of the server and database taken every few seconds.
type soakData struct {
	duration time.Duration
	ops      map[string][]sample
	probes   []probe
	// steady is when the tables the janitor prunes stop growing: the
	// longest lifetime plus the retention plus two janitor intervals.
	steady time.Duration
}

// probe is one look at the server and the database.
type probe struct {
	at         time.Duration // since the soak started
	rss        int64         // bytes
	goroutines float64
	tables     map[string]int64
}

// criterion is one row of the pass table.
type criterion struct {
	Name  string `json:"criterion"`
	Value string `json:"measured"`
	Limit string `json:"limit"`
	// Pass is nil when the run was too short to judge.
	Pass *bool `json:"pass"`
}

func passed(ok bool) *bool { return &ok }

// Limits of the criteria.
const (
	rssTolerance       = 0.10
	goroutineTolerance = 0.10
	goroutineSlack     = 5 // a few per-connection goroutines come and go
	p99Tolerance       = 1.5
	tableTolerance     = 0.15
)

// minute selects [from, from+1m) of the run.
type window struct{ from, to time.Duration }

func (d soakData) second() window { return window{time.Minute, 2 * time.Minute} }
func (d soakData) last() window   { return window{d.duration - time.Minute, d.duration} }

func (w window) has(t time.Duration) bool { return t >= w.from && t < w.to }

func (w window) String() string {
	return fmt.Sprintf("%.0f-%.0f s", w.from.Seconds(), w.to.Seconds())
}

// evaluate judges a soak. Runs shorter than three minutes have no second
// and last minute apart, and are judged on answers only.
func evaluate(d soakData) []criterion {
	out := []criterion{answersCriterion(d)}
	if d.duration < 3*time.Minute {
		out = append(out, criterion{Name: "stability (RSS, goroutines, p99, tables)", Value: "run shorter than 3 min", Limit: "SOAK ≥ 3m"})
		return out
	}
	out = append(out, rssCriterion(d), goroutineCriterion(d))
	names := make([]string, 0, len(d.ops))
	for name := range d.ops {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, p99Criterion(d, name))
	}
	return append(out, tableCriteria(d)...)
}

func answersCriterion(d soakData) criterion {
	var total, server, none int
	for _, samples := range d.ops {
		for _, s := range samples {
			total++
			switch {
			case s.status >= 500:
				server++
			case s.status <= 0:
				none++
			}
		}
	}
	return criterion{Name: "5xx answers and requests without an answer", Value: fmt.Sprintf("%d 5xx, %d unanswered of %d", server, none, total),
		Limit: "0", Pass: passed(server == 0 && none == 0 && total > 0)}
}

func (d soakData) probesIn(w window, f func(probe) float64) []float64 {
	var out []float64
	for _, p := range d.probes {
		if w.has(p.at) {
			out = append(out, f(p))
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return newStat(v).Median
}

func rssCriterion(d soakData) criterion {
	rss := func(p probe) float64 { return float64(p.rss) / (1 << 20) }
	second, last := median(d.probesIn(d.second(), rss)), median(d.probesIn(d.last(), rss))
	c := criterion{Name: "RSS, median of the last minute vs the second",
		Value: fmt.Sprintf("%.1f MB vs %.1f MB (%+.1f %%)", last, second, 100*(last/second-1)),
		Limit: fmt.Sprintf("within %.0f %%", 100*rssTolerance)}
	if !math.IsNaN(second) && !math.IsNaN(last) {
		c.Pass = passed(math.Abs(last/second-1) <= rssTolerance)
	}
	return c
}

func goroutineCriterion(d soakData) criterion {
	g := func(p probe) float64 { return p.goroutines }
	second, last := d.probesIn(d.second(), g), d.probesIn(d.last(), g)
	c := criterion{Name: "goroutines, highest of the last minute vs the second",
		Limit: fmt.Sprintf("≤ %.0f %% + %d more", 100*goroutineTolerance, goroutineSlack)}
	if len(second) == 0 || len(last) == 0 {
		c.Value = "no probes"
		return c
	}
	hs, hl := slices.Max(second), slices.Max(last)
	c.Value = fmt.Sprintf("%.0f vs %.0f", hl, hs)
	c.Pass = passed(hl <= hs*(1+goroutineTolerance)+goroutineSlack)
	return c
}

// p99In is the p99 of the requests of an operation that ended in w.
func p99In(samples []sample, w window) (time.Duration, int) {
	var lat []time.Duration
	for _, s := range samples {
		if w.has(s.end) {
			lat = append(lat, s.lat)
		}
	}
	return percentile(lat, 0.99), len(lat)
}

func p99Criterion(d soakData, op string) criterion {
	second, n2 := p99In(d.ops[op], d.second())
	last, n := p99In(d.ops[op], d.last())
	c := criterion{Name: "p99 of " + op + ", last minute vs the second",
		Value: fmt.Sprintf("%.1f ms vs %.1f ms (%d and %d requests)", msOf(last), msOf(second), n, n2),
		Limit: fmt.Sprintf("≤ %.1f×", p99Tolerance)}
	if n2 > 0 && n > 0 {
		c.Pass = passed(float64(last) <= p99Tolerance*float64(second))
	}
	return c
}

// tableCriteria: each table's median rows in the last minute are at most
// 15 % over those of the minute after the data reached its steady state.
// Before then a table still fills with live rows, and a run too short to
// have a minute past the steady state is not judged.
func tableCriteria(d soakData) []criterion {
	var names []string
	if len(d.probes) > 0 {
		for name := range d.probes[len(d.probes)-1].tables {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	ref := window{d.steady, d.steady + time.Minute}
	var out []criterion
	for _, name := range names {
		rows := func(p probe) float64 { return float64(p.tables[name]) }
		c := criterion{Name: "rows of " + name + ", last minute vs " + ref.String(),
			Limit: fmt.Sprintf("≤ +%.0f %%", 100*tableTolerance)}
		last := median(d.probesIn(d.last(), rows))
		if ref.to > d.last().from {
			c.Value = fmt.Sprintf("%.0f (steady state from %.0f s on: run longer)", last, d.steady.Seconds())
			out = append(out, c)
			continue
		}
		base := median(d.probesIn(ref, rows))
		c.Value = fmt.Sprintf("%.0f vs %.0f", last, base)
		c.Pass = passed(last <= base*(1+tableTolerance)+1)
		out = append(out, c)
	}
	return out
}

// allPassed is false when any judged criterion failed.
func allPassed(cs []criterion) bool {
	for _, c := range cs {
		if c.Pass != nil && !*c.Pass {
			return false
		}
	}
	return true
}

func printCriteria(w io.Writer, cs []criterion) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "criterion\tmeasured\tlimit\tpass")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Value, c.Limit, passText(c.Pass))
	}
	_ = tw.Flush()
}

func passText(p *bool) string {
	switch {
	case p == nil:
		return "not judged"
	case *p:
		return "yes"
	default:
		return "NO"
	}
}

// criteriaMarkdown is the table for docs/capacity.md.
func criteriaMarkdown(cs []criterion) string {
	var b strings.Builder
	b.WriteString("| criterion | measured | limit | pass |\n|---|---|---|---|\n")
	for _, c := range cs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Name, c.Value, c.Limit, passText(c.Pass))
	}
	return b.String()
}
