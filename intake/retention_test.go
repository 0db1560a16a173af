package intake_test

import (
	"context"
	"testing"
	"time"

	"intake/intake"
	"intake/store"
)

// The daemon purges the raw mail of strangers and automatic mail once it
// is older than RawRetention, and keeps the submissions with their raw
// mail and files.
func TestRetention_daemonPurgesOnlyMailThatWasNotASubmission(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.RawRetention = 30 * 24 * time.Hour }})
	h.deliver(goodSubmission(t, "<good-1@dhs.gov>"))
	h.deliver(message{from: "someone@stranger.example", subject: "hello", messageID: "<s-1@stranger.example>"}.bytes(t))
	h.deliver(message{from: dhsSender, subject: "Out of office", messageID: "<ooo-1@dhs.gov>", headers: map[string]string{"Auto-Submitted": "auto-replied"}}.bytes(t))
	h.start()
	h.waitFolder("Accepted", 1)
	h.waitFolder("Quarantine", 1)
	h.waitFolder("Ignored", 1)
	h.replies(1)
	h.stop()
	h.stop = nil

	rawLen := func() map[string]int {
		out := map[string]int{}
		ms, err := h.store.Messages(context.Background(), store.MessageFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			full, err := h.store.Message(context.Background(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[m.Status] = len(full.Raw)
		}
		return out
	}
	for st, n := range rawLen() {
		if n == 0 {
			t.Fatalf("%s mail purged before its time", st)
		}
	}
	// A month and a day later the daemon starts again.
	h.clock.Add(31 * 24 * time.Hour)
	h.start()
	waitFor(t, "the refused and ignored mail purged", func() bool {
		l := rawLen()
		return l[store.StatusRejected] == 0 && l[store.StatusIgnored] == 0
	})
	if l := rawLen(); l[store.StatusAccepted] == 0 {
		t.Error("the submission's raw mail was purged")
	}
	subs, err := h.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil || len(subs) != 1 {
		t.Fatalf("submissions %v, %v", subs, err)
	}
	d, err := h.store.SubmissionByReceipt(context.Background(), subs[0].Receipt)
	if err != nil || len(d.Files) != 1 || len(d.Records) == 0 {
		t.Errorf("the submission lost its files or records: %v", err)
	}
}
