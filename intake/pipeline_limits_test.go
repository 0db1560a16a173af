package intake_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/parser/parsertest"
	"intake/store"
)

// A workbook the MIME limits kept from being read is named in the notice,
// and the mail is not accepted on the strength of the files that were read.
func TestUnreadWorkbookAnswered(t *testing.T) {
	const partLimit = 64 << 10
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.EmailLimits.MaxPartBytes = partLimit }})
	big := make([]byte, 2*partLimit)
	rand.Read(big)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "big@dhs.gov",
		files: []attachment{{"positions.xlsx", good}, {"retention requests.xlsx", big}}}.bytes(t))
	h.start()

	m := parseReply(t, h.replies(1)[0])
	for _, want := range []string{"retention requests.xlsx", "was not read", "split the rows"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("notice lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "No spreadsheet was attached") {
		t.Errorf("notice says no spreadsheet was attached:\n%s", m.Text)
	}
	h.waitFolder("Deficient", 1)
	subs, err := h.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil || len(subs) != 1 {
		t.Fatal(subs, err)
	}
	if subs[0].State != "deficient" {
		t.Errorf("state %s: a mail with an unread workbook was accepted", subs[0].State)
	}
	cur, err := h.store.Current(context.Background(), "ses-designation-review", "HS", "")
	if err != nil || cur != nil {
		t.Errorf("Current = %+v, %v; want none", cur, err)
	}
}

// A mail whose parts were skipped unseen (nested deeper than the limit) is
// not accepted either: a workbook may be among them.
func TestIncompleteMessageAnswered(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.EmailLimits.MaxParts = 2 }})
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "many@dhs.gov",
		files: []attachment{{"positions.xlsx", good}, {"a.pdf", []byte("%PDF-1.4")}, {"b.pdf", []byte("%PDF-1.4")}}}.bytes(t))
	h.start()
	m := parseReply(t, h.replies(1)[0])
	if !strings.Contains(m.Text, "some of it was not read") {
		t.Errorf("notice does not say the mail was read in part:\n%s", m.Text)
	}
	h.waitFolder("Deficient", 1)
}

// A workbook the streaming reader hands to excelize is logged and counted.
func TestFallbackLoggedAndCounted(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	var logs syncBuffer
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.Metrics, o.Logger = metrics, slogTo(&logs) }})
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	// A cell type the streaming reader does not know, in row 3 of the sheet.
	odd := parsertest.RewritePart(t, good, "xl/worksheets/sheet1.xml", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`<c r="I3" s="1">`), []byte(`<c r="I3" s="1" t="weird">`), 1)
	})
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "odd@dhs.gov",
		files: []attachment{{"report.xlsx", odd}}}.bytes(t))
	h.start()
	h.replies(1)
	if got := testutil.ToFloat64(metrics.WorkbookReader.WithLabelValues("excelize")); got != 1 {
		t.Errorf("workbooks read by excelize: %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.WorkbookReader.WithLabelValues("stream")); got != 0 {
		t.Errorf("workbooks read by the streaming reader: %v, want 0", got)
	}
	if !strings.Contains(logs.String(), "workbook read by the fallback reader") {
		t.Errorf("fallback not logged:\n%s", logs.String())
	}
}
