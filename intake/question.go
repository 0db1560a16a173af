package intake

import (
	"context"
	"strings"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
	"intake/workbook"
)

// isQuestion reports whether mail from an agency that carried no workbook
// is a question for staff rather than a submission that lacks its file:
// its subject names no data call's keywords, or it asks something (a
// question mark in the subject, or in its own text: quoted lines, which
// begin with ">", do not count).
func isQuestion(calls *parser.Registry, msg *email.Message) bool {
	if def, _ := calls.Route(parser.RouteInput{Subject: msg.Subject}); def == nil {
		return true
	}
	if strings.Contains(msg.Subject, "?") {
		return true
	}
	for _, line := range strings.Split(msg.Text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), ">") && strings.Contains(line, "?") {
			return true
		}
	}
	return false
}

// question decides a question: stored for staff (the questions table, its
// queue), answered with a short reply saying staff will answer. No
// submission, no receipt. def is the call the mail names, or nil.
func (d *Daemon) question(ctx context.Context, m *store.Message, msg *email.Message, agency *Agency, def *parser.Definition, c store.Completion) (store.Completion, error) {
	c.Status, c.Folder = store.StatusQuestion, d.o.Folders.Questions
	if def != nil {
		c.Call = def.ID
	}
	c.Question = &store.NewQuestion{Subject: msg.Subject, Text: msg.Text, AskedAt: receivedAt(m)}
	c.Note = "question for staff"
	mail, err := d.o.Reply.Question(reply.Outcome{Call: def, ReplyID: d.newMessageID(), Agency: agency.Code, AgencyName: agency.Name,
		Original: reply.Original{MessageID: msg.MessageID, Subject: msg.Subject, From: msg.From, FromName: msg.FromName,
			References: msg.References, Date: msg.Date, Received: receivedAt(m)},
		Now: d.o.Now()})
	if err != nil {
		return c, err
	}
	return d.withReply(ctx, c, msg.From, mail)
}

// receivedAt is when OPM's mail server received m: on time or late is
// judged by it, so a daemon outage over a deadline does not make on-time
// mail late.
func receivedAt(m *store.Message) time.Time {
	if m.InternalDate.IsZero() || m.InternalDate.After(m.ReceivedAt) {
		return m.ReceivedAt
	}
	return m.InternalDate
}

// templateCodes are the findings that mean the mail lacks the call's
// workbook, or sent another file: the notice attaches the blank template.
var templateCodes = map[string]bool{
	"no-spreadsheet": true, "no-data-sheet": true, "no-header": true, "legacy-xls": true,
	"not-xlsx": true, "corrupted": true, "macro-workbook": true, "empty-file": true,
}

// blankTemplate returns the call's blank official template when a finding
// says the workbook is missing or wrong, else nil.
func blankTemplate(ctx context.Context, def *parser.Definition, fs []parser.Finding) ([]byte, error) {
	for _, f := range fs {
		if templateCodes[f.Code] {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return workbook.TemplateAll(def)
		}
	}
	return nil, nil
}
