package reply_test

import (
	"strings"
	"testing"
	"time"
)

// Issue 14: the acknowledgement's "Received" was the sender's own Date
// field; it is when OPM's server received the mail, the time lateness is
// judged by.
func TestAcknowledgement_receivedIsTheServersTime(t *testing.T) {
	out := ackOutcome()
	out.Original.Date = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) // backdated by the sender
	out.Original.Received = time.Date(2025, 3, 25, 8, 15, 0, 0, time.UTC)
	m, err := newBuilder(t).Acknowledgement(out)
	if err != nil {
		t.Fatal(err)
	}
	pm := parseMail(t, m.Raw)
	for _, typ := range []string{"text/plain", "text/html"} {
		body := pm.text(t, typ)
		if !strings.Contains(body, "Tuesday, 25 March 2025 08:15 UTC") {
			t.Errorf("%s: Received does not show the server's time:\n%s", typ, body)
		}
		if strings.Contains(body, "1 March 2025") {
			t.Errorf("%s: the sender's Date is shown:\n%s", typ, body)
		}
	}
}

// Issue 14: a display name with an encoded CR, LF or NUL made the reply
// fail to build, so the agency was never answered.
func TestReply_displayNameWithControlCharacters(t *testing.T) {
	for _, name := range []string{"Evil\nname", "Evil\r\nBcc: x@evil.test", "Evil\x00name", "Evil\u2028name\u0085", "\"Quoted\" \\ name"} {
		out := ackOutcome()
		out.Original.FromName = name
		out.Original.Subject = "Report " + name
		m, err := newBuilder(t).Acknowledgement(out)
		if err != nil {
			t.Errorf("name %q: %v", name, err)
			continue
		}
		h := parseMail(t, m.Raw).Header
		to := h.Get("To")
		if !strings.Contains(to, "<hc-reports@hq.dhs.gov>") || h.Has("Bcc") {
			t.Errorf("name %q: To = %q, Bcc = %q", name, to, h.Get("Bcc"))
		}
		if len(m.To) != 1 || m.To[0] != "hc-reports@hq.dhs.gov" {
			t.Errorf("name %q: recipients %q", name, m.To)
		}
	}
}
