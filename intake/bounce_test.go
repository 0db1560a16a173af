package intake_test

import (
	"context"
	"strings"
	"testing"

	"intake/store"
)

// Issue 14: a delivery report from anyone, naming one of our replies,
// marked it bounced. Only a report delivered with the null return path,
// about a reply of ours that went out, for one of its recipients, is
// recorded; the others mark nothing and are handled as any other mail.
// And RFC 3464's own example, Action: failed with a 4.x.x status, is a
// final failure, not a delay.
func TestBounce_onlyOfOurRepliesAndFailedIsFinal(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.deliver(goodSubmission(t, "b1@dhs.gov"))
	h.start()
	replyID := parseReply(t, h.replies(1)[0]).MessageID
	ctx := context.Background()

	forged := []string{
		// From anyone: a return path of its own.
		strings.Replace(string(dsn(replyID, dhsSender)), "Return-Path: <>", "Return-Path: <attacker@evil.test>", 1),
		// Naming a recipient our reply was not sent to.
		strings.ReplaceAll(string(dsn(replyID, "someone@evil.test")), "Message-ID: <dsn-1@", "Message-ID: <dsn-2@"),
		// Naming another message.
		strings.ReplaceAll(string(dsn("other-1@evil.test", dhsSender)), "Message-ID: <dsn-1@", "Message-ID: <dsn-3@"),
	}
	for _, raw := range forged {
		h.deliver([]byte(raw))
	}
	h.waitFolder("Ignored", len(forged))
	if n, _ := h.imap.Count("Bounces"); n != 0 {
		t.Errorf("%d forged reports filed as bounces", n)
	}
	if it, err := h.store.ReplyByMessageID(ctx, replyID); err != nil || it.Status != store.OutboxSent {
		t.Fatalf("reply after forged reports: %+v, %v; want it still sent", it, err)
	}
	for _, m := range messagesWith(t, h.store, store.StatusBounce) {
		t.Errorf("message %d recorded as a bounce: %s", m.ID, m.Note)
	}

	// The real one, as RFC 3464 appendix C reports it: failed, 4.0.0.
	real := strings.NewReplacer("Message-ID: <dsn-1@", "Message-ID: <dsn-4@", "Status: 5.1.1", "Status: 4.0.0",
		"550 5.1.1 user unknown", "400 4.0.0 host not found").Replace(string(dsn(replyID, dhsSender)))
	h.deliver([]byte(real))
	h.waitFolder("Bounces", 1)
	waitFor(t, "the reply marked bounced", func() bool {
		it, err := h.store.ReplyByMessageID(ctx, replyID)
		return err == nil && it.Status == store.OutboxBounced
	})
}
