package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"intake/store"
)

// Lists page with Limit and Offset and say how many matched; "accepted"
// is every accepted version; an unknown state or status is refused, not
// an empty list (issue 17).
func TestSubmissions_filters(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i := 1; i <= 130; i++ {
		sub := submission(fmt.Sprintf("R-%03d", i), i%3 != 0, 1)
		if i%2 == 0 {
			sub.Agency = "DJ"
		}
		mustComplete(t, s, uint32(i), sub, t0.Add(time.Duration(i)*time.Minute))
	}
	count := func(f store.ListFilter) int {
		t.Helper()
		n, err := s.CountSubmissions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(store.ListFilter{}); n != 130 {
		t.Errorf("count all = %d", n)
	}
	// 130 - 43 deficient (every third) = 87 accepted: 2 current, 85 superseded.
	if n := count(store.ListFilter{State: "accepted"}); n != 87 {
		t.Errorf("count accepted = %d, want 87", n)
	}
	if n := count(store.ListFilter{State: "current"}); n != 2 {
		t.Errorf("count current = %d, want 2", n)
	}
	if n := count(store.ListFilter{Agencies: []string{"DJ", "XX"}}); n != 65 {
		t.Errorf("count DJ = %d, want 65", n)
	}
	page, err := s.Submissions(ctx, store.ListFilter{Limit: 50, Offset: 100})
	if err != nil || len(page) != 30 || page[0].Receipt != "R-030" || page[29].Receipt != "R-001" {
		t.Errorf("page 3 = %d rows, %v", len(page), err)
	}
	if rest, _ := s.Submissions(ctx, store.ListFilter{Offset: 128}); len(rest) != 2 {
		t.Errorf("offset without limit = %d rows", len(rest))
	}
	if _, err := s.Submissions(ctx, store.ListFilter{State: "acepted"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("unknown state: %v", err)
	}
	if _, err := s.CountSubmissions(ctx, store.ListFilter{State: "nope"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("count, unknown state: %v", err)
	}

	if n, err := s.CountMessages(ctx, store.MessageFilter{Status: store.StatusDeficient}); err != nil || n != 43 {
		t.Errorf("count deficient messages = %d, %v", n, err)
	}
	ms, err := s.Messages(ctx, store.MessageFilter{Limit: 10, Offset: 125})
	if err != nil || len(ms) != 5 {
		t.Errorf("messages page = %d, %v", len(ms), err)
	}
	if _, err := s.Messages(ctx, store.MessageFilter{Status: "spam"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("unknown status: %v", err)
	}
}
