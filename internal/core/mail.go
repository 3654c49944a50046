package core

import (
	"context"
	"encoding/json"
	"time"
)

// Outbox delivers mail off the request path. A request queues its mail in
// the same transaction as the change it reports (QueueMail), so a mail is
// never lost when the process stops, and never sent for a change that
// rolled back; a worker in `idp serve` (Run) delivers it, retrying with
// backoff. Workers claim mail with a lease, so several servers share the
// queue without sending one mail twice; a worker killed in the middle of a
// send leaves that one mail to be sent again when its lease ends (delivery
// is at least once, docs/operations.md).
type Outbox struct{ *env }

const (
	mailLease       = time.Minute
	mailBatch       = 20
	mailMaxAttempts = 12
	mailMaxBackoff  = 15 * time.Minute
	mailSendTimeout = 30 * time.Second
)

// mailAAD binds sealed payloads to their use.
var mailAAD = []byte("idp mail outbox v1")

// queueMail seals m (its link holds a token) and queues it in tx. The
// caller wakes the worker after the commit (wakeMail).
func (e *env) queueMail(ctx context.Context, tx Tx, m Mail) error {
	om, err := e.sealMail(m)
	if err != nil {
		return err
	}
	return tx.EnqueueMail(ctx, om)
}

func (e *env) sealMail(m Mail) (*OutboxMail, error) {
	m.CreatedAt = e.now()
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	sealed, err := e.sealer.Seal(plain, mailAAD)
	if err != nil {
		return nil, err
	}
	return &OutboxMail{Kind: m.Kind, Payload: sealed, CreatedAt: m.CreatedAt}, nil
}

// wakeMail tells this process's worker that mail is waiting.
func (e *env) wakeMail() {
	select {
	case e.mailWake <- struct{}{}:
	default:
	}
}

// Run delivers queued mail until ctx ends: at once when this process queued
// some, else every mail poll interval (for mail other processes queued). A
// mail being sent when ctx ends is finished first, so a clean shutdown
// sends nothing twice.
func (o *Outbox) Run(ctx context.Context) {
	tick := time.NewTicker(o.cfg.MailPollInterval)
	defer tick.Stop()
	for {
		n, err := o.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.WarnContext(ctx, "mail outbox: claim failed", "err", err)
		}
		if n == mailBatch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-o.mailWake:
		case <-tick.C:
		}
	}
}

// DeliverDue claims one batch of due mail and delivers it, returning how
// many it claimed. Without a mailer, mail stays queued.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	if o.mailer == nil || ctx.Err() != nil {
		return 0, nil
	}
	batch, err := o.store.ClaimMail(ctx, o.now(), mailLease, mailBatch)
	if err != nil {
		return 0, err
	}
	for _, om := range batch {
		o.deliver(context.WithoutCancel(ctx), om)
	}
	return len(batch), nil
}

// Flush delivers what is due now, until nothing is left or ctx ends: the
// admin commands call it before they exit, so their mail goes out at once
// even when no server runs.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		n, err := o.DeliverDue(ctx)
		if err != nil || n < mailBatch {
			return err
		}
	}
}

func (o *Outbox) deliver(ctx context.Context, om OutboxMail) {
	var m Mail
	plain, err := o.sealer.Open(om.Payload, mailAAD)
	if err == nil {
		err = json.Unmarshal(plain, &m)
	}
	if err != nil {
		// Another encryption key sealed it: no retry can help.
		o.giveUp(ctx, om, m, "the queued mail can't be opened (was keys.encryption_key changed?)")
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, mailSendTimeout)
	err = o.mailer.Send(sendCtx, m)
	cancel()
	if err == nil {
		if err := o.store.MailSent(ctx, om.ID, o.now()); err != nil {
			o.log.ErrorContext(ctx, "mail outbox: delivered mail not marked sent; it may go out again", "id", om.ID, "err", err)
		}
		return
	}
	attempts := om.Attempts + 1
	if attempts >= mailMaxAttempts {
		o.giveUp(ctx, om, m, Clean(err.Error(), 500))
		return
	}
	next := o.now().Add(mailBackoff(attempts))
	o.log.WarnContext(ctx, "mail delivery failed; will retry", "kind", om.Kind, "id", om.ID, "attempt", attempts, "retry_at", next, "err", Clean(err.Error(), 500))
	if err := o.store.MailRetry(ctx, om.ID, next, Clean(err.Error(), 500), false); err != nil {
		o.log.WarnContext(ctx, "mail outbox: release for retry failed", "id", om.ID, "err", err)
	}
}

func (o *Outbox) giveUp(ctx context.Context, om OutboxMail, m Mail, why string) {
	o.log.ErrorContext(ctx, "mail delivery failed for good", "kind", om.Kind, "id", om.ID, "err", why)
	if err := o.store.MailRetry(ctx, om.ID, o.now(), why, true); err != nil {
		o.log.WarnContext(ctx, "mail outbox: mark failed", "id", om.ID, "err", err)
	}
	ev := event(EventMailFailure, OutcomeFailure, om.Kind, Meta{Actor: "mail"})
	ev.SubjectEmail = m.To
	o.audit.recordBestEffort(ctx, ev)
}

// mailBackoff doubles from one second, capped.
func mailBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < mailMaxBackoff; i++ {
		d *= 2
	}
	return min(d, mailMaxBackoff)
}
