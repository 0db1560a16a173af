package intake_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"intake/intake"
	"intake/intake/localmail"
	"intake/store"
)

// The default backoff (retry_min 30s, retry_max 1h): it doubles from the
// first wait, never passes the ceiling, and spreads retries by up to 10%.
func TestExponentialBackoff(t *testing.T) {
	backoff := intake.ExponentialBackoff(30*time.Second, time.Hour)
	for _, c := range []struct {
		attempt int
		base    time.Duration // the wait is in [base, base+10%], and never above 1h
	}{
		{0, 30 * time.Second}, // not a retry count, but no less than the first wait
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour}, // 64 min would pass the ceiling
		{9, time.Hour},
		{1000, time.Hour},
		{math.MaxInt, time.Hour},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			got := backoff(c.attempt)
			if got < c.base || got > c.base+c.base/10 || got > time.Hour {
				t.Fatalf("attempt %d: wait %v, want within [%v, %v] and at most 1h", c.attempt, got, c.base, min(c.base+c.base/10, time.Hour))
			}
			seen[got] = true
		}
		if c.base < time.Hour && len(seen) < 2 {
			t.Errorf("attempt %d: the same wait %d times: no jitter", c.attempt, 200)
		}
	}
	// A huge ceiling: doubling must not overflow into a negative or zero
	// wait; it reaches the ceiling (1s doubled 33 times is past half of it).
	huge := intake.ExponentialBackoff(time.Second, math.MaxInt64)
	for attempt := 1; attempt <= 100; attempt++ {
		got := huge(attempt)
		if got < time.Second || (attempt > 34 && got != math.MaxInt64) {
			t.Fatalf("ceiling MaxInt64, attempt %d: wait %v", attempt, got)
		}
	}
}

// An SMTP server that answers 4xx forever: each attempt waits the backoff
// for its number, the reply is given up after MaxSendTries attempts with
// the last answer as its reason, and nothing is sent for it any more.
func TestOutbox_givesUpAfterMaxAttempts(t *testing.T) {
	var tries atomic.Int32
	var asked []int
	r := newOutboxRig(t, localmail.SMTPOptions{Reject: func(n int, _ string, _ []string) error {
		tries.Add(1)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: fmt.Sprintf("try again later (#%d)", n)}
	}}, func(host string, port int) intake.SMTPOptions {
		return intake.SMTPOptions{Host: host, Port: port, TLS: "none", Timeout: 10 * time.Second}
	}, func(o *intake.Options) {
		o.MaxSendTries = 3
		o.Backoff = func(attempt int) time.Duration {
			asked = append(asked, attempt)
			return time.Duration(attempt) * time.Minute
		}
	})
	ctx := context.Background()
	round := func(wantTries int32) *store.OutboxItem {
		t.Helper()
		if sent, err := r.d.SendDue(ctx); err != nil || sent != 0 {
			t.Fatalf("SendDue = %d, %v; want nothing sent, no error", sent, err)
		}
		if got := tries.Load(); got != wantTries {
			t.Fatalf("%d SMTP attempts, want %d", got, wantTries)
		}
		return r.item()
	}

	for attempt := 1; attempt <= 2; attempt++ {
		it := round(int32(attempt))
		wait := time.Duration(attempt) * time.Minute
		if it.Status != store.OutboxQueued || it.Attempts != attempt || !it.NextAttempt.Equal(r.clock.Now().Add(wait)) ||
			!strings.Contains(it.LastError, "451") || !strings.Contains(it.LastError, fmt.Sprintf("(#%d)", attempt)) {
			t.Fatalf("after attempt %d: %s, %d attempts, next %v, error %q; want queued, next in %v",
				attempt, it.Status, it.Attempts, it.NextAttempt, it.LastError, wait)
		}
		// Not due before its backoff has passed.
		r.clock.Add(wait - time.Second)
		round(int32(attempt))
		r.clock.Add(time.Second)
	}
	it := round(3)
	if it.Status != store.OutboxFailed || it.Attempts != 3 ||
		!strings.HasPrefix(it.LastError, "gave up after 3 attempts: ") || !strings.Contains(it.LastError, "(#3)") {
		t.Fatalf("after the last attempt: %s, %d attempts, error %q; want failed with the last answer", it.Status, it.Attempts, it.LastError)
	}
	if fmt.Sprint(asked) != "[1 2 3]" {
		t.Errorf("backoff asked for attempts %v, want [1 2 3]", asked)
	}
	// Given up is final: a day later nothing is due and nothing is sent.
	r.clock.Add(24 * time.Hour)
	round(3)
	if due, err := r.store.DueReplies(ctx, r.clock.Now(), 0); err != nil || len(due) != 0 {
		t.Errorf("DueReplies = %d, %v; want none", len(due), err)
	}
	if _, ok, err := r.store.NextReplyDue(ctx); ok || err != nil {
		t.Errorf("NextReplyDue: ok %v, %v; want nothing queued", ok, err)
	}
	if n := len(r.smtp.Messages()); n != 0 {
		t.Errorf("%d messages accepted by a server that refuses them all", n)
	}
}
