package web

import (
	"time"

	"intake/parser/email"
)

// mailView is a mail as staff read it: the incoming mail of a submission
// or message, or one of our replies as sent.
type mailView struct {
	Subject     string           `json:"subject"`
	From        string           `json:"from"`
	To          []string         `json:"to"`
	Date        time.Time        `json:"date,omitzero"`
	Text        string           `json:"text"` // the first text/plain part (at most 64 KiB)
	Attachments []attachmentView `json:"attachments"`
	// Unreadable says why the mail could not be read (no header, say);
	// HeaderOnly that only its header was fetched (over the size limit).
	Unreadable string `json:"unreadable,omitempty"`
	HeaderOnly bool   `json:"header_only,omitempty"`
}

type attachmentView struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

// readMail reads raw with the pipeline's own MIME reader (its limits, its
// file-name sanitising). It always returns a view: what could not be read
// is said in it.
func readMail(raw []byte, headerOnly bool) mailView {
	v := mailView{To: []string{}, Attachments: []attachmentView{}, HeaderOnly: headerOnly}
	m, err := email.Parse(raw, email.Limits{})
	if err != nil {
		v.Unreadable = err.Error()
		return v
	}
	v.Subject, v.Date, v.Text = m.Subject, m.Date, m.Text
	v.From = m.From
	if m.FromName != "" {
		v.From = m.FromName + " <" + m.From + ">"
	}
	v.To = append(v.To, m.To...)
	v.To = append(v.To, m.Cc...)
	for _, a := range m.Attachments {
		v.Attachments = append(v.Attachments, attachmentView{Name: a.Name, ContentType: a.ContentType, Size: len(a.Data)})
	}
	for _, u := range m.Unread {
		v.Attachments = append(v.Attachments, attachmentView{Name: u.Name + " (over the size limit, not read)", ContentType: u.ContentType})
	}
	return v
}
