package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"intake/parser"
	"intake/store"
)

func TestComplete_accepted(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sub := submission("SES-2025-000001", true, 3)
	id, done := mustComplete(t, s, 1, sub, t0)
	if done.SubmissionID == 0 || done.Version != 1 {
		t.Fatalf("Completed = %+v, want a submission at version 1", done)
	}
	m, err := s.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.StatusAccepted || m.Folder != "Processed/accepted" || m.Receipt != sub.Receipt ||
		m.Agency != "HS" || m.Call != sub.Call || m.From != "hr@dhs.gov" || !m.ProcessedAt.Equal(t0) {
		t.Errorf("message after Complete = %+v", m)
	}
	cur, err := s.Current(ctx, sub.Call, "HS", "")
	if err != nil || cur == nil {
		t.Fatalf("Current = %v, %v", cur, err)
	}
	if cur.Receipt != sub.Receipt || cur.Version != 1 || cur.SubmissionID != done.SubmissionID || len(cur.Records) != 3 {
		t.Fatalf("Current = %+v", cur)
	}
	want := sub.Result.Records[1]
	got := cur.Records[1]
	if got.Kind != want.Kind || got.File != want.File || got.Sheet != want.Sheet || got.Row != want.Row ||
		len(got.Fields) != 12 || got.Fields["position_number"] != "P000001" || got.Fields["col07"] != "value 1/7" {
		t.Errorf("record 2 = %+v, want %+v", got, want)
	}
	due, err := s.DueReplies(ctx, t0, 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueReplies = %v, %v; want the acknowledgement", due, err)
	}
	if due[0].Receipt != sub.Receipt || due[0].Kind != "acknowledgement" || due[0].Status != store.OutboxQueued ||
		due[0].To[0] != "hr@dhs.gov" || !due[0].Created.Equal(t0) {
		t.Errorf("reply = %+v", due[0])
	}
	if cur, err := s.Current(ctx, sub.Call, "DJ", ""); cur != nil || err != nil {
		t.Errorf("Current(other agency) = %v, %v; want nil, nil", cur, err)
	}
}

func TestComplete_twiceFails(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id, _ := mustComplete(t, s, 1, submission("R-1", true, 2), t0)
	_, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusAccepted,
		Submission: submission("R-2", true, 2), Reply: reply("again@intake", "acknowledgement"), Now: t0})
	if err == nil {
		t.Fatal("second Complete of the same message succeeded")
	}
	if !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("error %q lacks the store: prefix", err)
	}
	if d, err := s.SubmissionByReceipt(ctx, "R-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second submission stored: %+v, %v", d, err)
	}
	if due, _ := s.DueReplies(ctx, t0, 0); len(due) != 1 {
		t.Errorf("%d replies queued, want 1 (nothing twice)", len(due))
	}
	if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusReceived, Now: t0}); err == nil {
		t.Error("Complete with status received succeeded")
	}
}

// TestComplete_atomic makes Complete fail after it has written part of its
// work and checks that none of it remains.
func TestComplete_atomic(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(c *store.Completion)
	}{
		// The receipt is taken: fails at the submission row.
		{"duplicate receipt", func(c *store.Completion) { c.Submission.Receipt = "R-1" }},
		// The reply's Message-ID is taken: fails after files, records and
		// findings were inserted.
		{"duplicate reply Message-ID", func(c *store.Completion) { c.Reply.MessageID = "reply-1@intake.opm.gov" }},
		// A reply without a recipient: fails after the records too.
		{"reply without recipient", func(c *store.Completion) { c.Reply.To = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, path := newStore(t)
			mustComplete(t, s, 1, submission("R-1", true, 5), t0)
			id := mustSave(t, s, rawMsg(2, "second"))
			c := store.Completion{Message: id, Status: store.StatusAccepted, Folder: "Accepted",
				Submission: submission("R-2", true, 1000), Reply: reply("reply-2@intake.opm.gov", "acknowledgement"),
				Now: t0.Add(time.Hour)}
			tc.spoil(&c)
			if _, err := s.Complete(ctx, c); err == nil {
				t.Fatal("Complete succeeded")
			}
			db := rawDB(t, path)
			for table, want := range map[string]int{"submissions": 1, "records": 5, "findings": 1, "files": 1,
				"outbox": 1, "outbox_recipients": 1} {
				if n := count(t, db, `SELECT COUNT(*) FROM `+table); n != want {
					t.Errorf("%s: %d rows after the failed Complete, want %d (those of the first)", table, n, want)
				}
			}
			m, err := s.Message(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != store.StatusReceived || m.Folder != "" || m.Receipt != "" {
				t.Errorf("message after failed Complete: status %s folder %q receipt %q; want untouched", m.Status, m.Folder, m.Receipt)
			}
			if ids, _ := s.Pending(ctx); len(ids) != 1 || ids[0] != id {
				t.Errorf("Pending = %v, want [%d]", ids, id)
			}
			cur, _ := s.Current(ctx, "ses-designation-review", "HS", "")
			if cur == nil || cur.Receipt != "R-1" || cur.Version != 1 {
				t.Errorf("Current after failed Complete = %+v, want R-1 still current", cur)
			}
		})
	}
}

func TestComplete_supersedingVersions(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	call := "ses-designation-review"
	_, v1 := mustComplete(t, s, 1, submission("R-1", true, 3), t0)
	_, bad := mustComplete(t, s, 2, submission("R-2", false, 2), t0.Add(time.Hour))
	if v1.Version != 1 || bad.Version != 0 || bad.SubmissionID == 0 {
		t.Fatalf("versions: %+v, %+v", v1, bad)
	}
	if cur, _ := s.Current(ctx, call, "HS", ""); cur == nil || cur.Receipt != "R-1" {
		t.Fatalf("a deficient resubmission replaced the current version: %+v", cur)
	}
	_, v2 := mustComplete(t, s, 3, submission("R-3", true, 4), t0.Add(2*time.Hour))
	if v2.Version != 2 {
		t.Fatalf("second accepted version = %d, want 2", v2.Version)
	}
	cur, _ := s.Current(ctx, call, "HS", "")
	if cur == nil || cur.Receipt != "R-3" || cur.Version != 2 || len(cur.Records) != 4 {
		t.Fatalf("Current = %+v, want R-3 v2 with 4 records", cur)
	}
	// Another period is versioned on its own.
	other := submission("R-4", true, 1)
	other.Period = "2025-W14"
	if _, v := mustComplete(t, s, 4, other, t0.Add(3*time.Hour)); v.Version != 1 {
		t.Errorf("first version of another period = %d, want 1", v.Version)
	}

	list, err := s.Submissions(ctx, store.ListFilter{Call: call})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, x := range list {
		states[x.Receipt] = x.State
	}
	if len(list) != 4 || list[0].Receipt != "R-4" || list[3].Receipt != "R-1" {
		t.Errorf("Submissions order = %v, want newest first", list)
	}
	if states["R-1"] != "superseded" || states["R-2"] != "deficient" || states["R-3"] != "current" || states["R-4"] != "current" {
		t.Errorf("states = %v", states)
	}
	cur2, _ := s.Submissions(ctx, store.ListFilter{State: "current"})
	if len(cur2) != 2 {
		t.Errorf("Submissions(current) = %d, want 2", len(cur2))
	}
	since, _ := s.Submissions(ctx, store.ListFilter{Since: t0.Add(90 * time.Minute), Limit: 1})
	if len(since) != 1 || since[0].Receipt != "R-4" {
		t.Errorf("Submissions(since, limit 1) = %+v", since)
	}
	if none, _ := s.Submissions(ctx, store.ListFilter{Agency: "DJ"}); len(none) != 0 {
		t.Errorf("Submissions(agency DJ) = %+v", none)
	}
	r2 := list[2]
	if r2.Receipt != "R-2" || r2.Errors != 1 || r2.Warnings != 1 || r2.Records != 2 || r2.Version != 0 ||
		r2.MessageID != "<key-2@agency.gov>" || r2.Sender != "hr@dhs.gov" || !r2.ReceivedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("summary of R-2 = %+v", r2)
	}

	recs, err := s.AgencyRecords(ctx, call, "HS")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(recs["position-report"]); n != 5 {
		t.Errorf("AgencyRecords = %d position-report records, want 5 (4 of R-3 and 1 of R-4)", n)
	}
	if recs, _ := s.AgencyRecords(ctx, call, "DJ"); recs == nil || len(recs) != 0 {
		t.Errorf("AgencyRecords(DJ) = %v, want an empty map", recs)
	}

	attempts, err := s.Attempts(ctx, call, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range attempts {
		got = append(got, fmt.Sprintf("%s %s v%d accepted=%v %v", a.Receipt, a.Agency, a.Version, a.Accepted, a.Kinds))
	}
	if want := []string{"R-1 HS v1 accepted=true [position-report]", "R-2 HS v0 accepted=false [position-report]",
		"R-3 HS v2 accepted=true [position-report]"}; !slices.Equal(got, want) {
		t.Errorf("Attempts = %q, want %q", got, want)
	}
	if a := attempts[2]; a.Sender != "hr@dhs.gov" || !a.ReceivedAt.Equal(t0.Add(2*time.Hour)) || a.Seq <= attempts[1].Seq {
		t.Errorf("Attempts[2] = %+v", a)
	}
	if p, _ := s.Attempts(ctx, call, "2025-W14"); len(p) != 1 || p[0].Receipt != "R-4" {
		t.Errorf("Attempts(period) = %+v", p)
	}
	if p, err := s.Attempts(ctx, "no-such-call", ""); err != nil || p == nil || len(p) != 0 {
		t.Errorf("Attempts(unknown call) = %#v, %v; want an empty list", p, err)
	}
}

// The kinds of an attempt are those of its sheets, an empty one too, as
// the rows in force (current_kinds) count them.
func TestAttempts_emptySheetKind(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sub := submission("R-1", true, 1)
	sub.Result.Files[0].Sheets = []parser.SheetResult{{Name: "Positions", Kind: "position-report", Rows: 1}, {Name: "Retention", Kind: "retention-request"}}
	mustComplete(t, s, 1, sub, t0)
	attempts, err := s.Attempts(ctx, "ses-designation-review", "")
	if err != nil || len(attempts) != 1 || !slices.Equal(attempts[0].Kinds, []string{"position-report", "retention-request"}) {
		t.Fatalf("Attempts = %+v, %v", attempts, err)
	}
}

func TestComplete_bounce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	mustComplete(t, s, 1, submission("R-1", true, 1), t0)
	item, err := s.ReplyByMessageID(ctx, "<reply-1@intake.opm.gov>")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReplySent(ctx, item.ID, t0); err != nil {
		t.Fatal(err)
	}

	b := mustSave(t, s, rawMsg(2, "bounce"))
	if _, err := s.Complete(ctx, store.Completion{Message: b, Status: store.StatusBounce, Folder: "Bounces",
		Bounce: &store.Bounce{ReplyMessageID: "<reply-1@intake.opm.gov>", Recipient: "hr@dhs.gov", Reason: "550 no such user", Permanent: true},
		Now:    t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	item, _ = s.ReplyByMessageID(ctx, "reply-1@intake.opm.gov")
	if item.Status != store.OutboxBounced || !strings.Contains(item.LastError, "550 no such user") {
		t.Errorf("bounced reply = %+v, want status bounced with the reason", item)
	}
	m, _ := s.Message(ctx, b)
	if m.Status != store.StatusBounce || !strings.Contains(m.Note, "reply-1@intake.opm.gov") {
		t.Errorf("bounce message = %+v", m)
	}

	// An unknown Message-ID is only noted on the message.
	u := mustSave(t, s, rawMsg(3, "unknown-bounce"))
	if _, err := s.Complete(ctx, store.Completion{Message: u, Status: store.StatusBounce, Note: "dsn",
		Bounce: &store.Bounce{ReplyMessageID: "<nobody@else>", Recipient: "x@y.gov", Reason: "gone", Permanent: true},
		Now:    t0}); err != nil {
		t.Fatalf("bounce of an unknown reply: %v", err)
	}
	m, _ = s.Message(ctx, u)
	if !strings.HasPrefix(m.Note, "dsn; ") || !strings.Contains(m.Note, "unknown reply <nobody@else>") {
		t.Errorf("note = %q", m.Note)
	}
	// A bounce is only accepted with the bounce status.
	v := mustSave(t, s, rawMsg(4, "v"))
	if _, err := s.Complete(ctx, store.Completion{Message: v, Status: store.StatusIgnored,
		Bounce: &store.Bounce{ReplyMessageID: "x"}, Now: t0}); err == nil {
		t.Error("Complete(ignored with a bounce) succeeded")
	}
}

func TestSubmissionByReceipt_FileData_Export(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sub := submission("R-1", false, 3)
	sub.Result.Records[2].Fields["notes"] = "=HYPERLINK(\"x\")\t\"quoted\" \\ \x01 \xff é 日本"
	id, done := mustComplete(t, s, 1, sub, t0)

	d, err := s.SubmissionByReceipt(ctx, "R-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != done.SubmissionID || d.Message != id || d.State != "deficient" || d.Errors != 1 || d.Warnings != 1 {
		t.Errorf("summary = %+v", d.SubmissionSummary)
	}
	if len(d.Files) != 1 || d.Files[0].Name != "report.xlsx" || d.Files[0].SHA256 != sub.Files[0].SHA256 ||
		d.Files[0].Size != int64(len(sub.Files[0].Data)) || d.Files[0].ContentType != sub.Files[0].ContentType {
		t.Errorf("files = %+v", d.Files)
	}
	if len(d.Findings) != 2 || d.Findings[1] != sub.Result.Findings[1] {
		t.Errorf("findings = %+v, want %+v", d.Findings, sub.Result.Findings)
	}
	if len(d.Records) != 3 || d.Records[2].Fields["notes"] != "=HYPERLINK(\"x\")\t\"quoted\" \\ \x01 \uFFFD é 日本" {
		t.Errorf("record 3 notes = %q", d.Records[2].Fields["notes"])
	}
	if len(d.Replies) != 1 || d.Replies[0].Kind != "deficiency" || d.Replies[0].Receipt != "R-1" {
		t.Errorf("replies = %+v", d.Replies)
	}
	if _, err := s.SubmissionByReceipt(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SubmissionByReceipt(unknown) err = %v", err)
	}

	f, data, err := s.FileData(ctx, "R-1", strings.ToUpper(sub.Files[0].SHA256))
	if err != nil || string(data) != string(sub.Files[0].Data) || f.Name != "report.xlsx" {
		t.Errorf("FileData = %+v, %q, %v", f, data, err)
	}
	if _, _, err := s.FileData(ctx, "R-1", "00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FileData(unknown hash) err = %v", err)
	}

	mustComplete(t, s, 2, submission("R-2", true, 2), t0.Add(time.Hour))
	var rows []store.ExportRow
	collect := func(r store.ExportRow) error { rows = append(rows, r); return nil }
	if err := s.ExportRecords(ctx, "ses-designation-review", "", false, collect); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("export all = %d rows, want 5", len(rows))
	}
	r := rows[2]
	if r.Receipt != "R-1" || r.MessageID != "<key-1@agency.gov>" || r.FileName != "report.xlsx" ||
		r.FileSHA256 != sub.Files[0].SHA256 || r.Sheet != "Positions" || r.Row != 4 || r.Kind != "position-report" ||
		r.Agency != "HS" || r.Version != 0 || !r.ReceivedAt.Equal(t0) || r.Fields["position_number"] != "P000002" {
		t.Errorf("export row = %+v", r)
	}
	rows = nil
	if err := s.ExportRecords(ctx, "ses-designation-review", "", true, collect); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Receipt != "R-2" || rows[0].Version != 1 {
		t.Errorf("export current = %+v", rows)
	}
	rows = nil
	if err := s.ExportRecords(ctx, "ses-designation-review", "retention-request", false, collect); err != nil || len(rows) != 0 {
		t.Errorf("export of another kind = %d rows, %v", len(rows), err)
	}
	stop := errors.New("stop")
	n := 0
	err = s.ExportRecords(ctx, "ses-designation-review", "", false, func(store.ExportRow) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("export stopped by fn: err %v after %d rows", err, n)
	}
}
