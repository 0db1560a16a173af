package reply

import (
	"time"

	"intake/parser"
)

// ReminderInput is what a reminder to an agency that has not answered
// says.
type ReminderInput struct {
	Call       *parser.Definition
	ReplyID    string // our Message-ID (without <>), chosen by the caller, stable
	Agency     string // agency code
	AgencyName string
	To         []string // the agency's contact addresses, all on one reminder
	Due        time.Time
	Now        time.Time // the message's Date
}

type reminderView struct {
	common
	Due     string
	Overdue bool
	SendTo  string // where submissions go
	Kinds   []string
}

// Reminder builds a reminder that a data call is due (or overdue) and no
// accepted submission from the agency is on record. It is not a reply:
// it starts a thread and is marked "Auto-Submitted: auto-generated"
// (RFC 3834 section 5).
func (b *Builder) Reminder(r ReminderInput) (*Mail, error) {
	c := b.common(Outcome{Call: r.Call, Agency: r.Agency, AgencyName: r.AgencyName})
	v := reminderView{common: c, Due: day(r.Due), Overdue: !r.Due.IsZero() && r.Now.After(r.Due), SendTo: b.opts.From}
	title := "data call"
	if r.Call != nil {
		title = r.Call.Title
		if len(r.Call.Routing.Addresses) > 0 {
			v.SendTo = r.Call.Routing.Addresses[0]
		}
		for _, k := range r.Call.Kinds {
			v.Kinds = append(v.Kinds, k.Title)
		}
	}
	subject := "Reminder: " + title
	if v.Overdue {
		subject = "Overdue: " + title
	}
	if v.Due != "" {
		subject += " (due " + r.Due.Format("2 January 2006") + ")"
	}
	text, html, err := b.render(KindReminder, v)
	if err != nil {
		return nil, err
	}
	return b.compose(envelope{
		Kind:      KindReminder,
		MessageID: r.ReplyID,
		To:        first(r.To),
		MoreTo:    rest(r.To),
		Subject:   subject,
		Date:      r.Now,
		Auto:      "auto-generated",
	}, text, html, nil)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func rest(s []string) []string {
	if len(s) < 2 {
		return nil
	}
	return s[1:]
}
