package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"intake/store"
)

// deskStore holds 130 submissions of agencies A000..A129 (every tenth
// deficient), then a second accepted version of A001 and a deficient one
// of A002 after its accepted one.
func deskStore(t *testing.T) *store.Store {
	t.Helper()
	s, _ := newStore(t)
	uid := uint32(0)
	add := func(agency string, accepted bool, n int, at time.Time) {
		uid++
		sub := submission(fmt.Sprintf("R-%04d", uid), accepted, n)
		sub.Agency, sub.Sender, sub.ReceivedAt = agency, "hr@"+agency+".gov", at
		sub.Files[0].Name = fmt.Sprintf("report-%s.xlsx", agency)
		for i := range sub.Result.Records {
			sub.Result.Records[i].Fields["position_number"] = fmt.Sprintf("%s-%02d", agency, i)
		}
		mustComplete(t, s, uid, sub, at)
	}
	for i := range 130 {
		add(fmt.Sprintf("A%03d", i), i%10 != 5, 2, t0.Add(time.Duration(i)*time.Minute))
	}
	add("A001", true, 3, t0.Add(200*time.Minute))
	add("A002", false, 1, t0.Add(201*time.Minute))
	return s
}

func receipts(xs []store.SubmissionSummary) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.Receipt)
	}
	return out
}

func TestSearchSubmissions_pagesSortsAndCounts(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	seen := map[string]bool{}
	total := -1
	for off := 0; ; off += 50 {
		page, n, err := s.SearchSubmissions(ctx, store.SubmissionQuery{Limit: 50, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		total = n
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			if seen[x.Receipt] {
				t.Fatalf("receipt %s on two pages", x.Receipt)
			}
			seen[x.Receipt] = true
		}
	}
	if total != 132 || len(seen) != 132 {
		t.Fatalf("total %d, listed %d; want 132 each", total, len(seen))
	}
	page, _, err := s.SearchSubmissions(ctx, store.SubmissionQuery{Sort: "received", Desc: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := receipts(page); !slices.Equal(got, []string{"R-0132", "R-0131"}) {
		t.Errorf("newest first: %v", got)
	}
	page, _, err = s.SearchSubmissions(ctx, store.SubmissionQuery{Sort: "agency", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := receipts(page); !slices.Equal(got, []string{"R-0001", "R-0002", "R-0131"}) {
		t.Errorf("by agency: %v", got)
	}
}

func TestSearchSubmissions_text(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    store.SubmissionQuery
		want []string
	}{
		{"receipt", store.SubmissionQuery{Text: "r-0007"}, []string{"R-0007"}},
		{"sender", store.SubmissionQuery{Text: "HR@A011.GOV"}, []string{"R-0012"}},
		{"file name", store.SubmissionQuery{Text: "report-A012"}, []string{"R-0013"}},
		{"agency name", store.SubmissionQuery{Text: "Treasury", AgencyCodes: []string{"A020"}}, []string{"R-0021"}},
		{"position number", store.SubmissionQuery{Text: "a030-01", RecordKeys: []string{"position_number"}}, []string{"R-0031"}},
		{"position number not searched without its key", store.SubmissionQuery{Text: "a030-01"}, nil},
		{"like wildcards are literal", store.SubmissionQuery{Text: "R-00_7"}, nil},
		{"latest deficient", store.SubmissionQuery{State: "deficient", LatestOnly: true, Agencies: []string{"A002", "A005", "A015"}, Sort: "receipt"},
			[]string{"R-0006", "R-0016", "R-0132"}},
		{"period", store.SubmissionQuery{Periods: []string{"2025-W10"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, n, err := s.SearchSubmissions(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(receipts(got), c.want) || n != len(c.want) {
				t.Errorf("got %v (total %d), want %v", receipts(got), n, c.want)
			}
		})
	}
}

func TestSearchMessages(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	ms, n, err := s.SearchMessages(ctx, store.MessageQuery{Statuses: []string{store.StatusDeficient}, Limit: 5, Sort: "received"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 14 || len(ms) != 5 || ms[0].Receipt != "R-0006" {
		t.Fatalf("deficient mail: %d listed of %d, first %+v", len(ms), n, ms[0])
	}
	ms, n, err = s.SearchMessages(ctx, store.MessageQuery{Text: "a042.gov"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || ms[0].Receipt != "R-0043" {
		t.Fatalf("search by sender: %d, %+v", n, ms)
	}
}

func TestAttention_andReplyActions(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	a, err := s.Attention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 13 agencies with only a deficient submission, and A002 whose newest is deficient.
	if a.DeficientLatest != 14 || a.FailedReplies != 0 || a.HeldReplies != 0 {
		t.Fatalf("attention %+v", a)
	}
	// A held reply (a dry run's) and one failed for good.
	id := mustSave(t, s, rawMsg(900, "held"))
	if _, err := s.Complete(store.HoldReplies(ctx, "dry run"), store.Completion{Message: id, Status: store.StatusDeficient,
		Reply: reply("held@intake.opm.gov", "deficiency"), Now: t0}); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueReplies(ctx, t0.Add(time.Hour), 1)
	if err != nil || len(due) != 1 {
		t.Fatal(due, err)
	}
	if _, err := s.ClaimReplies(ctx, []store.Claim{{ID: due[0].ID, Next: t0.Add(2 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplyFailed(ctx, due[0].ID, "550 no such user", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Message(ctx, id); err != nil {
		t.Fatal(err)
	}
	a, err = s.Attention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.FailedReplies != 1 || a.HeldReplies != 1 {
		t.Fatalf("attention %+v", a)
	}
	held, n, err := s.SearchReplies(ctx, store.ReplyQuery{Statuses: []string{store.OutboxHeld}})
	if err != nil || n != 1 {
		t.Fatal(held, n, err)
	}
	// A held reply is released, once; a failed one is resent, not released.
	if err := s.ResendReply(ctx, held[0].ID, t0); !errors.Is(err, store.ErrStatus) {
		t.Errorf("resend of a held reply: %v, want ErrStatus", err)
	}
	if err := s.ReleaseReply(ctx, held[0].ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseReply(ctx, held[0].ID, t0.Add(3*time.Hour)); !errors.Is(err, store.ErrStatus) {
		t.Errorf("second release: %v, want ErrStatus", err)
	}
	if err := s.ReleaseReply(ctx, due[0].ID, t0); !errors.Is(err, store.ErrStatus) {
		t.Errorf("release of a failed reply: %v, want ErrStatus", err)
	}
	if err := s.ResendReply(ctx, due[0].ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ResendReply(ctx, 99999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown reply: %v", err)
	}
	r, err := s.Reply(ctx, due[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.OutboxQueued || r.Attempts != 0 || r.LastError != "" || len(r.Raw) == 0 {
		t.Errorf("resent reply: %+v", r)
	}
	now, err := s.DueReplies(ctx, t0.Add(3*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, o := range now {
		ids = append(ids, o.ID)
	}
	if !slices.Contains(ids, held[0].ID) || !slices.Contains(ids, due[0].ID) {
		t.Errorf("released and resent replies are due: %v", ids)
	}
	a, _ = s.Attention(ctx)
	if a.FailedReplies != 0 || a.HeldReplies != 0 {
		t.Errorf("attention after the actions %+v", a)
	}
}

func TestPreviousVersion_andKinds(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	prev, recs, err := s.PreviousVersion(ctx, "ses-designation-review", "A001", "", 2, []string{"position-report"})
	if err != nil {
		t.Fatal(err)
	}
	if prev.Receipt != "R-0002" || len(recs) != 2 {
		t.Fatalf("previous of A001 v2: %s with %d records", prev.Receipt, len(recs))
	}
	if _, recs, _ := s.PreviousVersion(ctx, "ses-designation-review", "A001", "", 2, []string{"retention-request"}); len(recs) != 0 {
		t.Errorf("kinds not asked for: %d records", len(recs))
	}
	if _, _, err := s.PreviousVersion(ctx, "ses-designation-review", "A001", "", 1, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("before version 1: %v", err)
	}
	totals, err := s.KindTotals(ctx, "ses-designation-review")
	if err != nil {
		t.Fatal(err)
	}
	// 117 agencies accepted with 2 rows, A001 now 3.
	if totals["position-report"] != 117*2+1 {
		t.Errorf("records in force: %v", totals)
	}
	counts, err := s.KindCounts(ctx, []int64{prev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if counts[prev.ID]["position-report"] != 2 {
		t.Errorf("kind counts %v", counts)
	}
}

// A search naming a state or status that does not exist is refused, not
// answered with nothing (issue 17: an unknown state gave an empty list).
func TestSearch_badFilter(t *testing.T) {
	s := deskStore(t)
	ctx := context.Background()
	if _, _, err := s.SearchSubmissions(ctx, store.SubmissionQuery{State: "acepted"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("submissions of state acepted: %v, want ErrBadFilter", err)
	}
	if _, _, err := s.SearchMessages(ctx, store.MessageQuery{Statuses: []string{store.StatusQuarantined, "lost"}}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("messages of status lost: %v, want ErrBadFilter", err)
	}
	if _, _, err := s.SearchReplies(ctx, store.ReplyQuery{Statuses: []string{"problem"}}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("replies of status problem: %v, want ErrBadFilter", err)
	}
	// Every state and status the store names is taken.
	for _, st := range store.SubmissionStates {
		if _, _, err := s.SearchSubmissions(ctx, store.SubmissionQuery{State: st}); err != nil {
			t.Errorf("state %s: %v", st, err)
		}
	}
	if _, _, err := s.SearchMessages(ctx, store.MessageQuery{Statuses: store.MessageStatuses}); err != nil {
		t.Error(err)
	}
	if _, _, err := s.SearchReplies(ctx, store.ReplyQuery{Statuses: store.OutboxStatuses}); err != nil {
		t.Error(err)
	}
}
