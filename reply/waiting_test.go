package reply_test

import (
	"strings"
	"testing"
	"time"

	"intake/reply"
)

// The acknowledgement of a workbook waiting for its password gives the
// receipt, names the file, says until when it waits and how to send the
// password (a separate mail naming the receipt), threads as a reply and
// attaches nothing.
func TestWaiting(t *testing.T) {
	b := newBuilder(t)
	until := sentAt.Add(24 * time.Hour)
	m, err := b.Waiting(reply.WaitingInput{
		Outcome: reply.Outcome{Call: testDef(), ReplyID: "w-1@opm.gov", Receipt: "SES-2025-000007", Agency: "HS", AgencyName: "Department of Homeland Security", Original: original(), Now: sentAt},
		Files:   []string{"perf.xlsx"},
		Until:   until,
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != reply.KindWaiting || !strings.Contains(m.Subject, "SES-2025-000007") || m.To[0] != "hc-reports@hq.dhs.gov" {
		t.Errorf("kind %q subject %q to %v", m.Kind, m.Subject, m.To)
	}
	p := parseMail(t, m.Raw)
	if strings.Contains(p.Structure, "application/") {
		t.Errorf("something attached: %s", p.Structure)
	}
	text := p.text(t, "text/plain")
	for _, want := range []string{"SES-2025-000007", `"perf.xlsx"`, "separate email", "waits for its password until", "first line"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if p.Header.Get("In-Reply-To") == "" || p.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Error("not threaded as an automatic reply")
	}
	html := p.text(t, "text/html")
	if !strings.Contains(html, "SES-2025-000007") {
		t.Error("HTML lacks the receipt")
	}
}
