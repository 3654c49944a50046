package mail

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/idp-dev/idp/internal/core"
)

// SMTPOptions configure the smtp driver.
type SMTPOptions struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	StartTLS bool
	// Timeout bounds one delivery, so a slow server can't hold a request
	// for longer than this.
	Timeout time.Duration
}

// SMTP delivers mail through an SMTP server.
type SMTP struct {
	opts SMTPOptions
	log  *slog.Logger
}

// NewSMTP returns an smtp driver; it connects on each Send.
func NewSMTP(opts SMTPOptions, log *slog.Logger) (*SMTP, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	return &SMTP{opts: opts, log: log}, nil
}

// Send delivers m within the configured timeout.
func (s *SMTP) Send(ctx context.Context, m core.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.opts.From); err != nil {
		return fmt.Errorf("mail.smtp.from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, body(m))
	policy := gomail.TLSMandatory
	if !s.opts.StartTLS {
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(s.opts.Port),
		gomail.WithTimeout(s.opts.Timeout),
		gomail.WithTLSPolicy(policy),
	}
	if s.opts.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.opts.Username), gomail.WithPassword(s.opts.Password))
	}
	c, err := gomail.NewClient(s.opts.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send to %s:%d: %w", s.opts.Host, s.opts.Port, err)
	}
	return nil
}

func body(m core.Mail) string {
	switch m.Kind {
	case core.MailPasswordReset:
		return "Someone asked to reset the password of this account.\n\nTo choose a new password, open:\n" + m.URL +
			"\n\nThe link works once and expires soon. If you did not ask for this, ignore this mail.\n"
	case core.MailInvite:
		return "An account was created for you.\n\nTo set your password, open:\n" + m.URL + "\n"
	case core.MailPasswordChanged:
		return "The password of this account was just changed. If this was not you, reset your password at once.\n"
	}
	return m.Subject + "\n"
}
