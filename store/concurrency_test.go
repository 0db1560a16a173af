package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"intake/store"
)

// TestConcurrentWriters runs writers completing submissions (all for the
// same agency, so their versions contend), outbox workers claiming and
// sending replies, and readers, all at once: none may see an error
// ("database is locked" in particular), and the versions must come out
// 1..N without a gap or a duplicate.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const writers, perWriter = 6, 15
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				uid := uint32(w*1000 + i + 1)
				m := rawMsg(uid, fmt.Sprintf("k-%d", uid))
				id, _, err := s.SaveRaw(ctx, m)
				if err != nil {
					report(err)
					return
				}
				if _, err := s.BeginAttempt(ctx, id, t0); err != nil {
					report(err)
					return
				}
				sub := submission(fmt.Sprintf("R-%d", uid), true, 20)
				if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusAccepted, Folder: "Accepted",
					Submission: sub, Reply: reply(fmt.Sprintf("reply-%d@intake", uid), "acknowledgement"), Now: t0}); err != nil {
					report(err)
					return
				}
			}
		}()
	}

	// Outbox workers each own the replies of one parity, as the daemon's
	// single outbox loop owns all of them.
	stop := make(chan struct{})
	var owg sync.WaitGroup
	sent := make([]int, 2)
	for p := 0; p < 2; p++ {
		owg.Add(1)
		go func() {
			defer owg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				due, err := s.DueReplies(ctx, t0, 10)
				if err != nil {
					report(err)
					return
				}
				for _, d := range due {
					if int(d.ID%2) != p {
						continue
					}
					if n, err := s.ClaimReplies(ctx, []store.Claim{{ID: d.ID, Next: t0.Add(time.Hour)}}); err != nil || n[0] != 1 {
						report(fmt.Errorf("claim %d: %v, %v", d.ID, n, err))
						return
					}
					if err := s.ReplySent(ctx, d.ID, t0); err != nil {
						report(err)
						return
					}
					sent[p]++
				}
			}
		}()
	}
	// A reader, as the dashboard.
	owg.Add(1)
	go func() {
		defer owg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.Counts(ctx); err != nil {
				report(err)
				return
			}
			if _, err := s.Current(ctx, "ses-designation-review", "HS", ""); err != nil {
				report(err)
				return
			}
		}
	}()

	wg.Wait()
	close(stop)
	owg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	list, err := s.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != writers*perWriter {
		t.Fatalf("%d submissions, want %d", len(list), writers*perWriter)
	}
	var versions []int
	current := 0
	for _, x := range list {
		versions = append(versions, x.Version)
		if x.State == "current" {
			current++
		}
	}
	sort.Ints(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions %v: want 1..%d", versions, len(versions))
		}
	}
	if current != 1 {
		t.Errorf("%d current versions, want 1", current)
	}
	_, outbox, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if outbox[store.OutboxQueued]+outbox[store.OutboxSent] != writers*perWriter || outbox[store.OutboxSent] != sent[0]+sent[1] {
		t.Errorf("outbox %v, sent %v", outbox, sent)
	}
}
