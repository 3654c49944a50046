package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newAuditCmd) }

type auditOptions struct {
	email  string
	tenant string
	since  string
	limit  int
}

func newAuditCmd(g *globals) *cobra.Command {
	cmd := group("audit", "Read the audit log")
	var o auditOptions
	list := &cobra.Command{
		Use:   "list [--email E] [--tenant T] [--since D] [--limit N]",
		Short: "List audit events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			since, err := parseSince(o.since, time.Now())
			if err != nil {
				return err
			}
			return g.withApp(cmd.Context(), func(a *app) error {
				events, err := a.svcs.Audit.List(cmd.Context(), core.AuditQuery{
					Email: o.email, Tenant: o.tenant, Since: since, Limit: o.limit,
				})
				if err != nil {
					return err
				}
				views := make([]core.AuditEntry, 0, len(events))
				rows := make([][]string, 0, len(events))
				for _, e := range events {
					views = append(views, e.View())
					rows = append(rows, []string{tsAt(e.Time), e.Event, string(e.Outcome), dash(e.Reason),
						dash(e.SubjectEmail), dash(e.TenantSlug), dash(e.ClientIP), dash(e.RequestID)})
				}
				return g.print(map[string]any{"events": views}, func(p *printer) {
					p.table([]string{"TIME", "EVENT", "OUTCOME", "REASON", "EMAIL", "TENANT", "IP", "REQUEST ID"}, rows)
				})
			})
		},
	}
	f := list.Flags()
	f.StringVar(&o.email, "email", "", "only events about this email")
	f.StringVar(&o.tenant, "tenant", "", "only events of this tenant")
	f.StringVar(&o.since, "since", "", "only events in the last D (e.g. 24h) or since an RFC 3339 time")
	f.IntVar(&o.limit, "limit", 50, "at most N events (up to 1000)")
	cmd.AddCommand(list)
	return cmd
}

// parseSince reads --since: a Go duration counts back from now, anything
// else must be an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usageErr("--since %q must be a positive duration such as 24h", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageErr("--since %q is neither a duration (24h) nor an RFC 3339 time (2006-01-02T15:04:05Z)", s)
	}
	return t, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
