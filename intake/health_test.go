package intake_test

import (
	"testing"
	"time"

	"intake/intake"
)

// Issue 14: /healthz answered ok while fetching had stopped. Health fails
// once the last good poll is older than StaleAfter, and recovers with the
// next good poll.
func TestHealth_staleWhenFetchingStops(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) { o.StaleAfter = time.Minute }})
	if err := h.d.Health(h.clock.Now()); err == nil {
		t.Error("healthy before it runs")
	}
	h.deliver(goodSubmission(t, "h1@dhs.gov"))
	h.start()
	h.replies(1)
	if err := h.d.Health(h.clock.Now()); err != nil {
		t.Fatalf("running: %v", err)
	}
	h.clock.Add(2 * time.Minute) // the next poll, a moment away, is a good one
	waitFor(t, "healthy again after a good poll", func() bool { return h.d.Health(h.clock.Now()) == nil })

	h.imap.Close() // fetching stops (a round under way may still end well)
	waitFor(t, "unhealthy without a good poll", func() bool {
		if h.d.Health(h.clock.Now()) == nil {
			h.clock.Add(2 * time.Minute)
			return false
		}
		return true
	})
	if err := h.d.Health(h.clock.Now().Add(time.Minute)); err == nil {
		t.Error("healthy two minutes after the mail server went away")
	}
}
