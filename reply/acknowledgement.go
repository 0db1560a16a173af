package reply

import (
	"time"

	"intake/parser"
)

// Acknowledgement builds the reply to an accepted submission: receipt
// number, data call, version, rows counted per kind, on time or late, the
// size and SHA-256 of each file, what changed since the previous version
// (when out.Changes is set: the counts of rows added, removed and changed
// first, then the removed and changed rows named, up to maxNamedChanges
// each; added rows are only counted, and out.ChangeList, the whole list,
// is attached when the mail does not name every change) and any warnings,
// grouped as in a deficiency notice.
func (b *Builder) Acknowledgement(out Outcome) (*Mail, error) {
	v := ackView{
		common:   b.common(out),
		Version:  out.Version,
		Previous: max(out.Version-1, 0),
		Received: dateTime(received(out)),
		Due:      day(out.Due),
		Late:     out.Late,
		Counts:   counts(out.Call, out.Submission),
		Files:    files(out.Call, out.Submission),
		Changes:  changes(out.Call, out.Changes, out.Version),
	}
	v.CountsText = countsText(v.Counts)
	var warnings []parser.Finding
	for _, f := range out.Submission.Findings {
		if f.Severity == parser.SeverityWarning {
			warnings = append(warnings, f)
		}
	}
	v.NWarnings = len(warnings)
	v.Warnings, v.More = group(out.Submission, warnings, maxLines)
	var atts []attachment
	if v.Changes != nil && !v.Changes.namedInFull() && out.ChangeList != nil {
		v.Changes.Attached = changesName
		atts = append(atts, attachment{Name: changesName, Data: out.ChangeList})
	}
	text, html, err := b.render(KindAcknowledgement, v)
	if err != nil {
		return nil, err
	}
	return b.compose(b.replyEnvelope(KindAcknowledgement, out), text, html, atts)
}

// received is when OPM's server received the original mail, or Now; never
// the sender's own Date field (issue 14).
func received(out Outcome) time.Time {
	if !out.Original.Received.IsZero() {
		return out.Original.Received
	}
	return out.Now
}

// replyEnvelope is the envelope of a reply to out.Original.
func (b *Builder) replyEnvelope(kind string, out Outcome) envelope {
	title := ""
	if out.Call != nil {
		title = out.Call.Title
	}
	return envelope{
		Kind:      kind,
		MessageID: out.ReplyID,
		To:        out.Original.From,
		ToName:    out.Original.FromName,
		Subject:   replySubject(out.Original.Subject, title, out.Receipt),
		Date:      out.Now,
		Original:  &out.Original,
		Auto:      "auto-replied",
	}
}
