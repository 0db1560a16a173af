package intake

import (
	"context"
	"errors"
	"slices"
	"strings"

	"intake/parser/email"
	"intake/store"
)

// bounceOfOurs decides whether a delivery report b may be recorded on one
// of our replies: only a report about a reply of ours that was handed to
// the SMTP server, for one of that reply's recipients, and delivered with
// the null return path. Anyone can write a mail that looks like a delivery
// report, so a report naming anything else marks nothing (issue 14); it is
// then handled as any other mail. It returns "" when the report is ours to
// record, else why not; an error is the store's.
func (d *Daemon) bounceOfOurs(ctx context.Context, msg *email.Message, b *email.Bounce) (string, error) {
	if msg.ReturnPath != "" {
		// RFC 5321 section 4.5.5: a non-delivery report is sent with the
		// null reverse-path, which the delivering server records as
		// Return-Path: <>.
		return "a delivery report with a return path (" + msg.ReturnPath + ")", nil
	}
	r, err := d.o.Store.ReplyByMessageID(ctx, b.ReplyMessageID)
	if errors.Is(err, store.ErrNotFound) {
		return "a delivery report about no reply of ours", nil
	}
	if err != nil {
		return "", err
	}
	if r.Attempts == 0 || r.Status == store.OutboxHeld {
		return "a delivery report about a reply never handed to the mail server", nil
	}
	if b.Recipient != "" || b.OriginalRecipient != "" {
		if !slices.ContainsFunc(r.To, func(to string) bool {
			return equalFoldAddr(to, b.Recipient) || equalFoldAddr(to, b.OriginalRecipient)
		}) {
			return "a delivery report naming a recipient the reply was not sent to", nil
		}
	}
	return "", nil
}

func equalFoldAddr(a, b string) bool { return b != "" && strings.EqualFold(a, b) }
