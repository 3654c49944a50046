package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/idp-dev/idp/internal/core"
)

// print writes v as one JSON document with --output json, or calls text
// with a styled printer otherwise.
func (g *globals) print(v any, text func(p *printer)) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(newPrinter(g.stdout))
	return nil
}

// printer renders for people. Colours appear only on a terminal: the
// renderer detects what its writer supports, so files and pipes get plain
// text (and golden files stay stable).
type printer struct {
	w     io.Writer
	r     *lipgloss.Renderer
	head  lipgloss.Style
	title lipgloss.Style
	ok    lipgloss.Style
	warn  lipgloss.Style
}

func newPrinter(w io.Writer) *printer {
	r := lipgloss.NewRenderer(w)
	return &printer{
		w:     w,
		r:     r,
		head:  r.NewStyle().Bold(true).Padding(0, 1),
		title: r.NewStyle().Bold(true),
		ok:    r.NewStyle().Foreground(lipgloss.Color("2")),
		warn:  r.NewStyle().Foreground(lipgloss.Color("3")).Bold(true),
	}
}

func (p *printer) line(s string) { fmt.Fprintln(p.w, s) }

func (p *printer) success(s string) { fmt.Fprintln(p.w, p.ok.Render("✓ ")+s) }

// table prints rows under headers with a border. Every cell is escaped:
// a value stored before it was checked, or an audit row's user agent, must
// not hide behind invisible or bidi characters nor move the terminal.
func (p *printer) table(headers []string, rows [][]string) {
	if len(rows) == 0 {
		p.line("(none)")
		return
	}
	for _, row := range rows {
		for i := range row {
			row[i] = core.Escape(row[i])
		}
	}
	cell := p.r.NewStyle().Padding(0, 1)
	t := table.New().
		Border(lipgloss.NormalBorder()).
		Headers(headers...).
		Rows(rows...).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return p.head
			}
			return cell
		})
	fmt.Fprintln(p.w, t.Render())
}

// box prints key/value pairs in a rounded box under a title, with an
// optional warning line (used for one-time secrets).
func (p *printer) box(title string, kv [][2]string, warning string) {
	width := 0
	for _, f := range kv {
		width = max(width, len(f[0]))
	}
	var b strings.Builder
	b.WriteString(p.title.Render(title))
	for _, f := range kv {
		b.WriteString("\n" + fmt.Sprintf("%-*s  %s", width, f[0], core.Escape(f[1])))
	}
	if warning != "" {
		b.WriteString("\n\n" + p.warn.Render(warning))
	}
	style := p.r.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	fmt.Fprintln(p.w, style.Render(b.String()))
}

// ts formats an optional time for tables.
func ts(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// tsAt formats a required time for tables.
func tsAt(t time.Time) string { return ts(&t) }
