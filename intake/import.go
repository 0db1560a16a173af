package intake

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"intake/intake/mailfile"
	"intake/parser/email"
	"intake/store"
)

// ImportMailbox is the mailbox name imported mail is stored under; each
// source is its own UIDVALIDITY, each message its position there, so
// importing a file again stores nothing twice.
const ImportMailbox = "import"

// ImportOptions say how a backlog is imported.
type ImportOptions struct {
	// Reply answers the senders. Off (the default), the replies are built
	// and stored held: old mail was likely answered by hand already.
	Reply bool
	// Progress, when set, is called after each message with how far the
	// source was read.
	Progress func(done, total int64)
}

// ImportResult counts what an import did.
type ImportResult struct {
	Kind       string // mbox, maildir or eml
	Read       int    // messages read from the source
	New        int    // stored for the first time, then decided
	Duplicates int    // already in the store (from the mailbox, or an earlier import)
	Truncated  int    // over the size limit: stored header-only, answered with what to send instead
}

// importBatch: messages stored before those pending are decided, so an
// import's memory does not grow with the source and a stop loses little.
const importBatch = 50

// Import runs a backlog (an mbox file or a mail directory, see mailfile)
// at path through the same pipeline as mail from the mailbox: each message
// is stored raw first (header-only over MaxMessageBytes), recognised if it
// is already stored (by location, Message-ID or content), then decided.
// Nothing is filed on a server. The path names the source's UIDVALIDITY:
// give it absolute.
func (d *Daemon) Import(ctx context.Context, path string, o ImportOptions) (ImportResult, error) {
	src, err := mailfile.Open(path, d.o.MaxMessageBytes)
	if err != nil {
		return ImportResult{}, err
	}
	defer src.Close()
	id := path
	res := ImportResult{Kind: src.Kind}
	if !o.Reply {
		ctx = store.HoldReplies(ctx, "imported old mail: replies off (intake import --reply answers)")
	}
	validity := crc32.ChecksumIEEE([]byte(id))
	pending := 0
	for {
		m, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("import: %w", err)
		}
		res.Read++
		now := d.o.Now()
		date := m.Date
		if date.IsZero() || date.After(now) {
			date = now
		}
		msgID, created, err := d.o.Store.SaveRaw(ctx, store.RawMessage{
			Mailbox: ImportMailbox, UIDValidity: validity, UID: uint32(res.Read),
			DedupeKey: email.DedupeKey(m.Raw), MessageID: messageID(m.Raw), SHA256: sha256hex(m.Raw),
			Raw: m.Raw, Truncated: m.Truncated, Size: m.Size, InternalDate: date, ReceivedAt: now,
		})
		if err != nil {
			return res, fmt.Errorf("import: message %s: %w", m.Where, err)
		}
		if created {
			res.New++
			pending++
			d.metrics.MessagesFetched.Inc()
		} else {
			res.Duplicates++
			d.metrics.Duplicates.Inc()
		}
		if m.Truncated {
			res.Truncated++
		}
		d.log.Debug("import: stored", "source", id, "at", m.Where, "message", msgID, "new", created, "truncated", m.Truncated)
		if pending >= importBatch {
			if err := d.decideImported(ctx); err != nil {
				return res, err
			}
			pending = 0
		}
		if o.Progress != nil {
			o.Progress(src.Done, src.Total)
		}
	}
	if err := d.decideImported(ctx); err != nil {
		return res, err
	}
	d.log.Info("import: done", "source", id, "read", res.Read, "new", res.New, "duplicates", res.Duplicates,
		"truncated", res.Truncated, "replies", map[bool]string{true: "queued", false: "held"}[o.Reply])
	return res, nil
}

// decideImported decides every stored message still pending.
func (d *Daemon) decideImported(ctx context.Context) error {
	start := time.Now()
	_, err := d.ProcessPending(ctx)
	d.log.Debug("import: decided a batch", "took", time.Since(start))
	return err
}
