package intake

import (
	"context"
	"fmt"
	"strings"
	"time"

	"intake/parser"
	"intake/reply"
	"intake/store"
)

// RunReminders queues reminders once an hour until ctx ends.
func (d *Daemon) RunReminders(ctx context.Context) {
	for {
		if n, err := d.QueueReminders(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("reminders: round failed", "err", err)
		} else if n > 0 {
			d.kickOutbox()
		}
		if !sleep(ctx, time.Hour) {
			return
		}
	}
}

// QueueReminders queues a reminder to every expected agency that has no
// accepted submission (parser.Status: missing or deficient) for a deadline
// falling within ReminderDays from now.
// Each (call, agency, deadline) is reminded once, whatever happens to the
// daemon in between: the store refuses a second.
func (d *Daemon) QueueReminders(ctx context.Context) (int, error) {
	if d.o.ReminderDays <= 0 {
		return 0, nil
	}
	now := d.o.Now()
	queued := 0
	codes := make([]string, 0, len(d.o.Agencies))
	for _, a := range d.o.Agencies {
		codes = append(codes, a.Code)
	}
	for _, def := range d.o.Calls.All() {
		for _, due := range def.Upcoming(now, now.Add(time.Duration(d.o.ReminderDays)*24*time.Hour)) {
			_, period, _ := def.Due(due.Add(-time.Second))
			attempts, err := d.o.Store.Attempts(ctx, def.ID, period)
			if err != nil {
				return queued, err
			}
			// Who still owes an answer: parser.Status, as everywhere.
			ps := parser.Status(def, period, def.Expected(codes), attempts, now)
			owe := map[string]bool{}
			for _, a := range ps.Agencies {
				owe[a.Agency] = a.Outstanding()
			}
			for _, a := range d.o.Agencies {
				if !owe[a.Code] {
					continue
				}
				to := a.Contacts
				if len(to) == 0 {
					for _, s := range a.Senders {
						if !strings.HasPrefix(s, "@") {
							to = append(to, s)
						}
					}
				}
				if len(to) == 0 {
					d.log.Warn("reminders: agency has no contact address", "agency", a.Code, "call", def.ID)
					continue
				}
				m, err := d.o.Reply.Reminder(reply.ReminderInput{Call: def, ReplyID: d.newMessageID(), Agency: a.Code, AgencyName: a.Name, To: to, Due: due, Now: now})
				if err != nil {
					return queued, fmt.Errorf("reminders: build for %s: %w", a.Code, err)
				}
				ok, err := d.o.Store.QueueReminder(ctx, def.ID, a.Code, due, store.NewReply{MessageID: m.MessageID, Kind: m.Kind, From: m.From, To: m.To, Raw: m.Raw}, now)
				if err != nil {
					return queued, err
				}
				if ok {
					queued++
					d.metrics.Reminders.Inc()
					d.log.Info("reminders: queued", "call", def.ID, "agency", a.Code, "due", due)
				}
			}
		}
	}
	return queued, nil
}
