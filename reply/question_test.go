package reply_test

import (
	"strings"
	"testing"

	"intake/parser"
	"intake/reply"
)

// The reply to a question says staff will answer, is threaded and marked
// automatic, and names no receipt and no refusal.
func TestQuestion(t *testing.T) {
	b := newBuilder(t)
	orig := original()
	orig.Subject = "Does the SES review include vacant positions?"
	m, err := b.Question(reply.Outcome{Call: testDef(), ReplyID: "q-1@opm.gov", Receipt: "TST-2025-000001", Agency: "HS", Original: orig, Now: sentAt})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Raw)
	text := p.text(t, "text/plain")
	html := p.text(t, "text/html")
	for _, body := range []string{text, html} {
		if !strings.Contains(body, "member of staff") || strings.Contains(body, "NOT accepted") || strings.Contains(body, "TST-2025") {
			t.Errorf("body:\n%s", body)
		}
	}
	if m.Kind != reply.KindQuestion || m.Subject != "Re: Does the SES review include vacant positions?" ||
		p.Header.Get("In-Reply-To") != "<CAF1234.5678@mail.dhs.gov>" || p.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("kind %s subject %q headers %v", m.Kind, m.Subject, p.Header)
	}
}

// A deficiency notice attaches the blank template it is given, also for a
// call holding PII (the template holds none).
func TestDeficiency_template(t *testing.T) {
	b := newBuilder(t)
	for _, pii := range []bool{false, true} {
		def := testDef()
		def.PII = pii
		sub := parser.Submission{Findings: []parser.Finding{{Code: "no-spreadsheet", Severity: parser.SeverityError, Message: "No spreadsheet was attached."}}}
		m, err := b.Deficiency(reply.Outcome{Call: def, ReplyID: "d-1@opm.gov", Receipt: "TST-2025-000002", Original: original(),
			Submission: sub, Template: []byte("PK template"), Now: sentAt})
		if err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, m.Raw)
		var names []string
		for _, x := range p.Parts {
			if x.Filename != "" {
				names = append(names, x.Filename)
			}
		}
		want := reply.TemplateName(def)
		if len(names) != 1 || names[0] != want || !strings.Contains(p.text(t, "text/plain"), want) {
			t.Errorf("pii %v: attachments %v, want %s", pii, names, want)
		}
	}
}
