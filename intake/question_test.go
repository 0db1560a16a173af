package intake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/reply"
	"intake/store"
)

// A question from an agency (no workbook) reaches staff: a short reply
// that staff will answer, no receipt and no "NOT accepted"; stored as a
// question in the queue, filed in Questions; the agency's standing is
// untouched (issue 17).
func TestQuestion_reachesStaff(t *testing.T) {
	for name, m := range map[string]message{
		// The question: "SES" is a keyword of the SES review,
		// but it asks.
		"keyword and question mark": {from: dhsSender, subject: "SES review", messageID: "q1@dhs.gov",
			body: "Does the SES review include vacant positions?"},
		"no keyword": {from: dhsSender, subject: "Hello", messageID: "q2@dhs.gov", body: "Whom do we call about the deadline."},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, harnessOptions{})
			h.deliver(m.bytes(t))
			h.start()
			r := parseReply(t, h.replies(1)[0])
			for _, bad := range []string{"NOT accepted", "Receipt", "SES-2025-"} {
				if strings.Contains(r.Text, bad) || strings.Contains(r.Subject, bad) {
					t.Errorf("the reply says %q:\n%s\n%s", bad, r.Subject, r.Text)
				}
			}
			if !strings.Contains(r.Text, "a member of staff") || !strings.HasPrefix(r.Subject, "Re: ") {
				t.Errorf("reply %q:\n%s", r.Subject, r.Text)
			}
			h.waitFolder("Questions", 1)
			qs, err := h.store.Questions(ctx, store.QuestionFilter{Open: true})
			if err != nil || len(qs) != 1 {
				t.Fatalf("open questions = %+v, %v", qs, err)
			}
			if q := qs[0]; q.Agency != "HS" || q.Subject != m.subject || !strings.Contains(q.Text, strings.TrimSuffix(m.body, "?")) || q.Sender != dhsSender {
				t.Errorf("question = %+v", q)
			}
			if n, _ := h.store.CountSubmissions(ctx, store.ListFilter{}); n != 0 {
				t.Errorf("%d submissions stored for a question", n)
			}
			if a, _ := h.store.Attempts(ctx, "ses-designation-review", ""); len(a) != 0 {
				t.Errorf("the question counts as an attempt: %+v", a)
			}
			out, _ := h.store.Messages(ctx, store.MessageFilter{Status: store.StatusQuestion})
			if len(out) != 1 {
				t.Errorf("messages in status question: %d", len(out))
			}
		})
	}
}

// Mail that names the call and asks nothing, without its workbook, is a
// submission without its file: the notice attaches the blank official
// template instead of naming an OPM tool.
func TestNoSpreadsheet_attachesTemplate(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(message{from: dhsSender, subject: "Our SES report", messageID: "empty@dhs.gov", body: "Please see attached."}.bytes(t))
	h.start()
	r := parseReply(t, h.replies(1)[0])
	if strings.Contains(r.Text, "intake template") {
		t.Errorf("the notice names an OPM tool:\n%s", r.Text)
	}
	want := reply.TemplateName(h.opts.Calls.Get("ses-designation-review"))
	found := false
	for _, a := range r.Attachments {
		if a.Name != want {
			continue
		}
		found = true
		f, err := excelize.OpenReader(strings.NewReader(string(a.Data)))
		if err != nil {
			t.Fatalf("the attached template does not open: %v", err)
		}
		sheets := f.GetSheetList()
		f.Close()
		if len(sheets) < 2 {
			t.Errorf("template sheets %v", sheets)
		}
	}
	if !found || !strings.Contains(r.Text, want) {
		t.Errorf("no %q attached (have %v):\n%s", want, attachmentNames(r), r.Text)
	}
}

// A wrong file (an old .xls) gets the template too; a workbook of the call
// with wrong cells does not (its own annotated copy is what helps).
func TestWrongWorkbook_attachesTemplate(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	xls := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...)
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "xls@dhs.gov", files: []attachment{{name: "report.xls", data: xls}}}.bytes(t))
	h.start()
	r := parseReply(t, h.replies(1)[0])
	want := reply.TemplateName(h.opts.Calls.Get("ses-designation-review"))
	if !strings.Contains(strings.Join(attachmentNames(r), "|"), want) {
		t.Errorf("no template with the .xls notice: %v\n%s", attachmentNames(r), r.Text)
	}
}
