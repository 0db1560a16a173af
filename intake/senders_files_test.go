package intake_test

import (
	"context"
	"strings"
	"testing"

	"intake/parser/parsertest"
	"intake/store"
)

// An "@domain" allowlist entry covers the agency's subdomains, and only
// them: a look-alike domain is quarantined without a reply.
func TestAllowlistDomainCoversSubdomains(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	h.deliver(message{from: "chco@hq.dhs.gov", subject: "SES report", messageID: "hq@hq.dhs.gov", dmarc: "pass",
		files: []attachment{{"report.xlsx", wb}}}.bytes(t))
	h.deliver(message{from: "chco@notdhs.gov", subject: "SES report", messageID: "x@notdhs.gov", dmarc: "pass",
		files: []attachment{{"report.xlsx", wb}}}.bytes(t))
	h.start()
	r := h.replies(1)[0]
	if len(r.To) != 1 || r.To[0] != "chco@hq.dhs.gov" {
		t.Errorf("reply to %v, want the hq.dhs.gov sender", r.To)
	}
	h.waitFolder("Accepted", 1)
	h.waitFolder("Quarantine", 1)
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d replies: the look-alike domain was answered", n)
	}
}

// The two kinds of the SES call may come as two files of one mail: both
// are read, and the retention request is checked against the position
// report of the other file.
func TestSeparateFilesOfOneMail(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	positions := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	retentions := parsertest.SESWorkbook(t, nil, parsertest.GoodRetentions())
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "two@dhs.gov",
		files: []attachment{{"positions.xlsx", positions}, {"retention.xlsx", retentions}}}.bytes(t))
	bad := parsertest.GoodRetentions()
	bad[0].PositionNumber = "HS-9999"
	h.deliver(message{from: "hr.director@treasury.gov", subject: "SES report", messageID: "two@treasury.gov",
		files: []attachment{{"positions.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}, {"retention.xlsx", parsertest.SESWorkbook(t, nil, bad)}}}.bytes(t))
	h.start()
	h.replies(2)
	h.waitFolder("Accepted", 1)
	h.waitFolder("Deficient", 1)
	ctx := context.Background()
	subs, err := h.store.Submissions(ctx, store.ListFilter{})
	if err != nil || len(subs) != 2 {
		t.Fatal(subs, err)
	}
	for _, s := range subs {
		sub, err := h.store.SubmissionByReceipt(ctx, s.Receipt)
		if err != nil {
			t.Fatal(err)
		}
		switch s.Agency {
		case "HS":
			byFile := map[string]string{}
			for _, r := range sub.Records {
				byFile[r.File] = r.Kind
			}
			if s.State != "current" || byFile["positions.xlsx"] != "position-report" || byFile["retention.xlsx"] != "retention-request" || len(sub.Files) != 2 {
				t.Errorf("HS: state %s, kinds by file %v, %d files", s.State, byFile, len(sub.Files))
			}
		case "TR":
			found := false
			for _, f := range sub.Findings {
				found = found || (f.Code == "retention-names-career-reserved-position" && f.File == "retention.xlsx" && f.Cell() == "A2")
			}
			if !found || s.State != "deficient" {
				t.Errorf("TR: state %s, findings %+v; want the retention request refused at A2 of retention.xlsx", s.State, sub.Findings)
			}
		}
	}
	for _, r := range h.smtp.Messages() {
		if r.To[0] == "hr.director@treasury.gov" && !strings.Contains(parseReply(t, r).Text, "retention.xlsx") {
			t.Errorf("Treasury's notice does not name the file")
		}
	}
}
