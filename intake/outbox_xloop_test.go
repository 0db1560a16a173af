package intake_test

import (
	"context"
	"strings"
	"testing"

	"intake/store"
)

// Our reply carries X-Loop with our address (RFC 3834 section 2). When it
// comes back, forwarded by the agency's mailbox under the agency's own
// From and stripped of Auto-Submitted (as some forwarders do), X-Loop
// alone still tells the bot it is its own: filed, not answered.
func TestOwnReplyForwardedBackIsNotAnswered(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(goodSubmission(t, "loop@dhs.gov"))
	h.start()
	sent := h.replies(1)[0]
	if got := headerOf(sent.Data, "X-Loop"); got != botAddr {
		t.Fatalf("X-Loop = %q, want %s", got, botAddr)
	}
	back := sent.Data
	for _, name := range []string{"From", "Auto-Submitted", "X-Auto-Response-Suppress"} {
		back = stripHeader(back, name)
	}
	back = append([]byte("From: "+dhsSender+"\r\n"), back...)
	h.deliver(back)
	h.waitFolder("Ignored", 1)
	ignored := messagesWith(t, h.store, store.StatusIgnored)
	if len(ignored) != 1 || !strings.Contains(ignored[0].Note, "X-Loop") {
		t.Fatalf("ignored %+v; want the forwarded reply, noted for its X-Loop", ignored)
	}
	if _, ob, err := h.store.Counts(context.Background()); err != nil || ob[store.OutboxQueued]+ob[store.OutboxSent] != 1 {
		t.Errorf("outbox %v, %v; want only the first reply", ob, err)
	}
}
