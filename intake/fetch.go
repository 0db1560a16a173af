package intake

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-sasl"

	"intake/parser/email"
	"intake/store"
)

// IMAPOptions say how to reach the mailbox.
type IMAPOptions struct {
	Addr      string      // host:port
	TLS       string      // "tls" (default), "starttls", or "none" (loopback tests only)
	TLSConfig *tls.Config // nil: system roots, ServerName from Addr
	Username  string
	Password  string
	// Auth is "plain" (the default: AUTHENTICATE PLAIN where the server
	// offers it, else the LOGIN command), "login" (the LOGIN command) or
	// "xoauth2", which sends the token Token returns. The password is never
	// sent to a server that advertises LOGINDISABLED without AUTH=PLAIN.
	Auth    string
	Token   func(ctx context.Context) (string, error)
	Mailbox string        // default INBOX
	Timeout time.Duration // per command (default 2 min)
	// DisableIdle polls every PollInterval even where the server offers
	// IDLE (for servers or proxies whose IDLE is unreliable).
	DisableIdle bool
	// BatchBytes bounds the memory of one fetch command: the sum of the
	// sizes (RFC822.SIZE) of the messages it fetches whole (default 64 MiB).
	// A message larger than that is fetched alone.
	BatchBytes int64
}

const (
	fetchBatchMax     = 50       // messages fetched by one command, at most
	defaultBatchBytes = 64 << 20 // their total size, at most (IMAPOptions.BatchBytes)
	metaChunk         = 500      // UIDs whose sizes and dates one command asks for
)

// RunFetcher keeps an IMAP session open until ctx ends, reconnecting with
// backoff when it breaks.
func (d *Daemon) RunFetcher(ctx context.Context) {
	attempt := 0
	for ctx.Err() == nil {
		started := time.Now()
		err := d.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > 5*time.Minute {
			attempt = 0 // it worked for a while: start the backoff afresh
		}
		attempt++
		wait := d.o.Backoff(attempt)
		d.metrics.IMAPReconnects.Inc()
		d.log.Warn("imap: session ended, reconnecting", "err", err, "attempt", attempt, "wait", wait)
		if !sleep(ctx, wait) {
			return
		}
	}
}

// session runs one connection: select, then poll and wait for new mail
// until the connection breaks or ctx ends.
func (d *Daemon) session(ctx context.Context) error {
	c, newMail, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	box := d.o.IMAP.Mailbox
	var sel *imap.SelectData
	if err := d.timed(c, func() (err error) {
		sel, err = c.Select(box, &imap.SelectOptions{ReadOnly: d.o.DryRun}).Wait()
		return err
	}); err != nil {
		return fmt.Errorf("imap: select %s: %w", box, err)
	}
	if !d.o.DryRun {
		d.createFolders(c)
	}
	d.log.Info("imap: connected", "mailbox", box, "uidvalidity", sel.UIDValidity, "messages", sel.NumMessages,
		"idle", c.Caps().Has(imap.CapIdle) && !d.o.IMAP.DisableIdle, "move", c.Caps().Has(imap.CapMove))
	for {
		// Drain the signal first: mail arriving from here on wakes the wait below.
		select {
		case <-newMail:
		default:
		}
		select {
		case <-d.decided:
		default:
		}
		if err := d.Step(ctx, c, sel); err != nil {
			return err
		}
		if err := d.waitForMail(ctx, c, newMail); err != nil {
			return err
		}
	}
}

// Step is one round of the fetch loop: fetch and store new mail, handing
// it to the workers as each batch is stored (and any mail still pending,
// such as a message whose last attempt failed), file what was decided,
// wake the outbox. It does not wait for mail to be decided: a worker that
// decides one wakes the loop for the next round, which files it.
func (d *Daemon) Step(ctx context.Context, c *imapclient.Client, sel *imap.SelectData) error {
	if err := d.fetchNew(ctx, c, sel); err != nil {
		return err
	}
	if _, err := d.schedule(ctx); err != nil {
		return err
	}
	// Filing is a round trip to the server and an fsync: while a backlog
	// is being decided it is done for many messages at once.
	if d.pool.fileDue(time.Now()) {
		if err := d.file(ctx, c, sel.UIDValidity); err != nil {
			return err
		}
	}
	d.markPolled(d.o.Now())
	d.kickOutbox()
	return nil
}

// waitForMail returns when the server reports new mail, when mail was
// decided (to file it), after the poll interval, or with an error when the
// connection or ctx ends.
func (d *Daemon) waitForMail(ctx context.Context, c *imapclient.Client, newMail <-chan struct{}) error {
	timer := time.NewTimer(d.o.PollInterval)
	defer timer.Stop()
	if d.o.IMAP.DisableIdle || !c.Caps().Has(imap.CapIdle) {
		select {
		case <-timer.C:
			return nil
		case <-d.decided:
			return nil
		case <-c.Closed():
			return errors.New("imap: connection closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	idle, err := c.Idle()
	if err != nil {
		return fmt.Errorf("imap: idle: %w", err)
	}
	select {
	case <-newMail:
	case <-d.decided:
	case <-timer.C:
	case <-c.Closed():
		return errors.New("imap: connection closed while idling")
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.timed(c, func() error {
		if err := idle.Close(); err != nil {
			return fmt.Errorf("imap: end idle: %w", err)
		}
		return idle.Wait()
	})
}

// fetchNew stores every message above the cursor, raw and whole, before
// anything else happens to it; the cursor moves only after a batch is stored.
func (d *Daemon) fetchNew(ctx context.Context, c *imapclient.Client, sel *imap.SelectData) error {
	box := d.o.IMAP.Mailbox
	cur, ok, err := d.o.Store.Cursor(ctx, box)
	if err != nil {
		return err
	}
	switch {
	case !ok && d.o.StartFromNow:
		// Start from now: mail already in the mailbox is left alone, now and
		// (SkipBefore) after a renumbering of the mailbox.
		last, err := d.lastUIDAtSelect(c, sel)
		if err != nil {
			return err
		}
		mark := d.o.Now()
		if last > 0 {
			// The server's clock dates the mail: where it runs ahead of ours,
			// its date of the last old message is the later mark.
			t, err := d.internalDate(c, last)
			if err != nil {
				return err
			}
			if t.After(mark) {
				mark = t
			}
		}
		cur = store.Cursor{UIDValidity: sel.UIDValidity, LastUID: uint32(last), SkipBefore: mark}
		d.log.Info("imap: starting from now", "mailbox", box, "skipped_up_to_uid", cur.LastUID, "skip_before", mark)
		if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
			return err
		}
	case !ok:
		// First contact: remember the numbering, so a later change of
		// UIDVALIDITY is noticed even before the first mail.
		cur = store.Cursor{UIDValidity: sel.UIDValidity}
		if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
			return err
		}
	case cur.UIDValidity != sel.UIDValidity:
		// The server renumbered the mailbox (RFC 9051 2.3.1.1): our UIDs
		// mean nothing any more. Rescan; stored mail is recognised by its
		// content and filed, not answered again. Where "start from now"
		// began, mail from before it is left alone as it was then, up to the
		// last UID there now (RescanTo, kept across restarts).
		next := store.Cursor{UIDValidity: sel.UIDValidity, SkipBefore: cur.SkipBefore}
		if !next.SkipBefore.IsZero() {
			last, err := d.lastUIDAtSelect(c, sel)
			if err != nil {
				return err
			}
			next.RescanTo = uint32(last)
		}
		d.log.Warn("imap: UIDVALIDITY changed, rescanning", "mailbox", box, "old", cur.UIDValidity, "new", sel.UIDValidity,
			"skip_before", next.SkipBefore, "rescan_to", next.RescanTo)
		cur = next
		if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
			return err
		}
	}
	uids, err := d.uidSearch(c, &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(cur.LastUID + 1), Stop: 0}}}})
	if err != nil {
		return err
	}
	// "N:*" returns the highest UID even when it is below N: keep only new ones.
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return uint32(u) <= cur.LastUID })
	slices.Sort(uids)
	left := 0
	defer func() {
		if left > 0 {
			d.log.Warn("imap: rescan left alone mail that was in the mailbox before start-from-now", "mailbox", box, "count", left)
		}
	}()
	budget := d.o.IMAP.BatchBytes
	if budget <= 0 {
		budget = defaultBatchBytes
	}
	if len(uids) > 0 {
		// Large mail is not started while small mail may still be coming.
		d.pool.setFetching(true)
		defer d.pool.setFetching(false)
	}
	for len(uids) > 0 {
		chunk := uids[:min(len(uids), metaChunk)]
		uids = uids[len(chunk):]
		metas, err := d.fetchMeta(c, chunk)
		if err != nil {
			return err
		}
		for _, batch := range planBatches(metas, budget, fetchBatchMax, d.o.MaxMessageBytes) {
			n, err := d.fetchBatch(ctx, c, cur, batch)
			left += n
			if err != nil {
				return err
			}
			cur.LastUID = uint32(batch[len(batch)-1].UID)
			if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
				return err
			}
			// The workers start on this batch while the next is fetched.
			if _, err := d.schedule(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// uidSearch runs UID SEARCH.
func (d *Daemon) uidSearch(c *imapclient.Client, crit *imap.SearchCriteria) ([]imap.UID, error) {
	var uids []imap.UID
	if err := d.timed(c, func() error {
		data, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		if uids == nil { // an ESEARCH answer without the UID marker (go-imap #632)
			for _, n := range data.AllSeqNums() {
				uids = append(uids, imap.UID(n))
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("imap: search: %w", err)
	}
	return uids, nil
}

// lastUIDAtSelect returns the highest UID the mailbox held when it was
// selected: UIDNEXT - 1, or, from a server that sent no UIDNEXT (it is
// optional in RFC 3501), the UID of the last message then.
func (d *Daemon) lastUIDAtSelect(c *imapclient.Client, sel *imap.SelectData) (imap.UID, error) {
	if sel.UIDNext > 0 {
		return sel.UIDNext - 1, nil
	}
	if sel.NumMessages == 0 {
		return 0, nil
	}
	// "n:*" holds the last message at SELECT and whatever came since: the
	// smallest UID is the one wanted. (Had mail been expunged since, "*"
	// falls below n and the range is the last message.)
	uids, err := d.uidSearch(c, &imap.SearchCriteria{SeqNum: []imap.SeqSet{{imap.SeqRange{Start: sel.NumMessages, Stop: 0}}}})
	if err != nil || len(uids) == 0 {
		return 0, err
	}
	return slices.Min(uids), nil
}

// internalDate returns when the server received a message (zero if it is
// gone).
func (d *Daemon) internalDate(c *imapclient.Client, uid imap.UID) (time.Time, error) {
	var msgs []*imapclient.FetchMessageBuffer
	if err := d.timed(c, func() (err error) {
		msgs, err = c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
		return err
	}); err != nil {
		return time.Time{}, fmt.Errorf("imap: fetch date: %w", err)
	}
	for _, m := range msgs {
		if m.UID == uid {
			return m.InternalDate, nil
		}
	}
	return time.Time{}, nil
}

// msgMeta is what is known of a message before its content is fetched.
type msgMeta struct {
	UID      imap.UID
	Size     int64     // RFC822.SIZE
	Internal time.Time // INTERNALDATE
}

// fetchMeta fetches the sizes and dates of uids, in UID order; messages
// expunged meanwhile are missing.
func (d *Daemon) fetchMeta(c *imapclient.Client, uids []imap.UID) ([]msgMeta, error) {
	var msgs []*imapclient.FetchMessageBuffer
	if err := d.timed(c, func() (err error) {
		msgs, err = c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		return err
	}); err != nil {
		return nil, fmt.Errorf("imap: fetch sizes: %w", err)
	}
	metas := make([]msgMeta, 0, len(msgs))
	for _, m := range msgs {
		if m.UID != 0 {
			metas = append(metas, msgMeta{UID: m.UID, Size: m.RFC822Size, Internal: m.InternalDate})
		}
	}
	slices.SortFunc(metas, func(a, b msgMeta) int { return cmp.Compare(a.UID, b.UID) })
	return slices.CompactFunc(metas, func(a, b msgMeta) bool { return a.UID == b.UID }), nil
}

// planBatches cuts ms (in UID order) into runs fetched by one command
// each: at most maxCount messages, whose sizes sum to at most budget. A
// message over maxMessage is fetched header-only and costs nothing here
// (the count bounds those headers); one larger than budget goes alone.
func planBatches(ms []msgMeta, budget int64, maxCount int, maxMessage int64) [][]msgMeta {
	var batches [][]msgMeta
	var cur []msgMeta
	var sum int64
	for _, m := range ms {
		cost := max(m.Size, 0)
		if cost > maxMessage {
			cost = 0
		}
		if len(cur) > 0 && (len(cur) >= maxCount || sum+cost > budget) {
			batches = append(batches, cur)
			cur, sum = nil, 0
		}
		cur = append(cur, m)
		sum += cost
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

var (
	wholeSection  = &imap.FetchItemBodySection{Peek: true}
	headerSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
)

// fetchBatch fetches and stores one batch. During a rescan after a change
// of UIDVALIDITY, mail that was in the mailbox before "start from now" began
// and is not already stored is left alone: not stored, so neither answered
// nor filed. It returns how many messages it left alone.
func (d *Daemon) fetchBatch(ctx context.Context, c *imapclient.Client, cur store.Cursor, batch []msgMeta) (left int, err error) {
	var whole, big, old []imap.UID
	info := map[imap.UID]msgMeta{}
	for _, m := range batch {
		info[m.UID] = m
		switch {
		case !cur.SkipBefore.IsZero() && uint32(m.UID) <= cur.RescanTo && !m.Internal.After(cur.SkipBefore):
			old = append(old, m.UID)
		case m.Size > d.o.MaxMessageBytes: // fetched header-only, and answered
			big = append(big, m.UID)
		default:
			whole = append(whole, m.UID)
		}
	}
	// Old mail is stored only if it is known already (then it is filed with
	// the message it repeats). Its header tells most of it apart cheaply: a
	// Message-ID the store has never seen. The rest is fetched like any mail
	// and kept only if its dedupe key is known.
	var check []imap.UID
	if len(old) > 0 {
		if err := d.fetchEach(c, old, headerSection, func(uid imap.UID, hdr []byte) error {
			m := info[uid]
			var known bool
			var err error
			switch {
			case m.Size > d.o.MaxMessageBytes: // it would be stored header-only: this is all of it
				if known, err = d.o.Store.Known(ctx, "", email.DedupeKey(hdr)); err == nil && known {
					err = d.save(ctx, cur.UIDValidity, uid, hdr, true, m.Size, m.Internal)
				}
			default:
				if id := messageID(hdr); id == "" {
					known = true // no Message-ID to tell by: look at the whole of it
				} else {
					known, err = d.o.Store.Known(ctx, id, "")
				}
				if known {
					check = append(check, uid)
				}
			}
			if err == nil && !known {
				left++
				d.leaveAlone(uid, m, cur)
			}
			return err
		}); err != nil {
			return left, err
		}
	}
	for _, part := range []struct {
		uids      []imap.UID
		section   *imap.FetchItemBodySection
		truncated bool
		check     bool
	}{
		{whole, wholeSection, false, false},
		{big, headerSection, true, false},
		{check, wholeSection, false, true},
	} {
		if err := d.fetchEach(c, part.uids, part.section, func(uid imap.UID, raw []byte) error {
			mi := info[uid]
			if part.check {
				known, err := d.o.Store.Known(ctx, "", email.DedupeKey(raw))
				if err != nil || !known {
					if err == nil {
						left++
						d.leaveAlone(uid, mi, cur)
					}
					return err
				}
			}
			d.failpoint(PointFetched, 0)
			return d.save(ctx, cur.UIDValidity, uid, raw, part.truncated, mi.Size, mi.Internal)
		}); err != nil {
			return left, err
		}
	}
	return left, nil
}

// fetchEach fetches a section of uids in one command and hands each
// message's bytes to fn, in the server's order.
func (d *Daemon) fetchEach(c *imapclient.Client, uids []imap.UID, section *imap.FetchItemBodySection, fn func(imap.UID, []byte) error) error {
	if len(uids) == 0 { // an empty UID set kills the connection
		return nil
	}
	var msgs []*imapclient.FetchMessageBuffer
	if err := d.timed(c, func() (err error) {
		msgs, err = c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("imap: fetch: %w", err)
	}
	for i, m := range msgs {
		raw := m.FindBodySection(section)
		if raw == nil {
			return fmt.Errorf("imap: fetch uid %d: no body returned", m.UID)
		}
		msgs[i] = nil // let each message go once it is stored
		if err := fn(m.UID, raw); err != nil {
			return err
		}
	}
	return nil
}

// leaveAlone logs a message a rescan does not take: it was in the mailbox
// before "start from now" began, and was never stored.
func (d *Daemon) leaveAlone(uid imap.UID, m msgMeta, cur store.Cursor) {
	d.metrics.LeftAlone.Inc()
	d.log.Info("imap: left alone: in the mailbox before start-from-now", "uidvalidity", cur.UIDValidity, "uid", uint32(uid),
		"internal_date", m.Internal, "skip_before", cur.SkipBefore)
}

func (d *Daemon) save(ctx context.Context, uidValidity uint32, uid imap.UID, raw []byte, truncated bool, size int64, internal time.Time) error {
	msgID := messageID(raw)
	now := d.o.Now()
	if internal.IsZero() {
		internal = now
	}
	id, created, err := d.o.Store.SaveRaw(ctx, store.RawMessage{
		Mailbox: d.o.IMAP.Mailbox, UIDValidity: uidValidity, UID: uint32(uid),
		DedupeKey: email.DedupeKey(raw), MessageID: msgID, SHA256: sha256hex(raw),
		Raw: raw, Truncated: truncated, Size: size, InternalDate: internal, ReceivedAt: now,
	})
	if err != nil {
		return fmt.Errorf("fetch: uid %d: %w", uid, err)
	}
	d.failpoint(PointStored, id)
	if created {
		d.metrics.MessagesFetched.Inc()
	} else {
		d.metrics.Duplicates.Inc()
	}
	d.log.Info("fetch: stored", "uidvalidity", uidValidity, "uid", uint32(uid), "message", id, "new", created, "bytes", len(raw), "truncated", truncated)
	return nil
}

// file moves every decided message to its folder. It runs only on what
// the store has committed, so a crash before the move leaves the mail in
// place, and a crash after it leaves only a no-op move to repeat.
func (d *Daemon) file(ctx context.Context, c *imapclient.Client, uidValidity uint32) error {
	locs, err := d.o.Store.Unfiled(ctx, d.o.IMAP.Mailbox, uidValidity)
	if err != nil || len(locs) == 0 {
		return err
	}
	// The outcomes the moves follow are made durable first: a power loss
	// must not leave mail filed whose outcome the store lost.
	if !d.o.DryRun {
		if err := d.o.Store.Sync(); err != nil {
			return err
		}
	}
	byFolder := map[string][]store.Location{}
	var folders []string
	for _, l := range locs {
		if _, ok := byFolder[l.Folder]; !ok {
			folders = append(folders, l.Folder)
		}
		byFolder[l.Folder] = append(byFolder[l.Folder], l)
	}
	for _, folder := range folders {
		group := byFolder[folder]
		if d.o.DryRun {
			for _, l := range group {
				d.log.Info("dry run: would file", "uid", l.UID, "folder", folder)
			}
			continue
		}
		var uids []imap.UID
		var ids []int64
		for _, l := range group {
			uids = append(uids, imap.UID(l.UID))
			ids = append(ids, l.ID)
		}
		d.failpoint(PointFiling, 0)
		if err := d.timed(c, func() error { return d.move(c, uids, folder) }); err != nil {
			var refused *imap.Error
			if errors.As(err, &refused) {
				// The server refused this folder (quota, rights, a
				// folder gone): the mail stays unfiled, to be tried
				// again next round, and the rest of the work goes on.
				d.log.Error("imap: filing refused; will retry", "folder", folder, "count", len(uids), "err", err)
				continue
			}
			return fmt.Errorf("imap: file to %s: %w", folder, err)
		}
		d.failpoint(PointFiled, 0)
		if err := d.o.Store.MarkFiled(ctx, ids, d.o.Now()); err != nil {
			return err
		}
		d.metrics.Filed.Add(float64(len(ids)))
		d.log.Info("imap: filed", "folder", folder, "count", len(ids))
	}
	return nil
}

// move files messages with MOVE, or UID COPY + UID STORE \Deleted + UID
// EXPUNGE. A server with neither MOVE nor UIDPLUS only offers a plain
// EXPUNGE, which would also remove what other clients marked \Deleted: there
// the originals are only marked \Deleted and left for their owner.
func (d *Daemon) move(c *imapclient.Client, uids []imap.UID, folder string) error {
	set := imap.UIDSetNum(uids...)
	if c.Caps().Has(imap.CapMove) || c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		_, err := c.Move(set, folder).Wait()
		return err
	}
	// Without MOVE the original stays, marked \Deleted (no EXPUNGE: that
	// would also remove what others marked). A copy made before a crash
	// left its original marked: copy only what is not marked yet, so a
	// restart never files a mail twice.
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}, NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return err
	}
	todo := found.AllUIDs()
	if len(todo) == 0 {
		return nil
	}
	set = imap.UIDSetNum(todo...)
	if _, err := c.Copy(set, folder).Wait(); err != nil {
		return err
	}
	return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
}

func (d *Daemon) createFolders(c *imapclient.Client) {
	f := d.o.Folders
	for _, name := range []string{f.Accepted, f.Deficient, f.Ignored, f.Bounces, f.Quarantine, f.Questions} {
		// An existing folder answers NO [ALREADYEXISTS]; anything else shows up
		// later as a failed move, with its reason.
		_ = d.timed(c, func() error { return c.Create(name, nil).Wait() })
	}
}

// dial connects and logs in. newMail receives a signal whenever the server
// reports a new message count (the handler runs on the reader goroutine:
// it only signals).
func (d *Daemon) dial(ctx context.Context) (*imapclient.Client, <-chan struct{}, error) {
	o := d.o.IMAP
	newMail := make(chan struct{}, 1)
	tlsConfig := o.TLSConfig
	if tlsConfig == nil {
		host, _, _ := net.SplitHostPort(o.Addr)
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	opts := &imapclient.Options{
		TLSConfig: tlsConfig,
		Dialer:    &net.Dialer{Timeout: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					select {
					case newMail <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	var c *imapclient.Client
	var err error
	switch strings.ToLower(o.TLS) {
	case "", "tls":
		c, err = imapclient.DialTLS(o.Addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(o.Addr, opts)
	case "none":
		c, err = imapclient.DialInsecure(o.Addr, opts)
	default:
		return nil, nil, fmt.Errorf("imap: unknown TLS mode %q", o.TLS)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("imap: connect %s: %w", o.Addr, err)
	}
	if err := d.timed(c, func() error { return c.WaitGreeting() }); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap: greeting: %w", err)
	}
	switch strings.ToLower(o.Auth) {
	case "", "plain", "login":
		err = d.timed(c, func() error { return loginPassword(c, o.Username, o.Password, strings.EqualFold(o.Auth, "login")) })
	case "xoauth2":
		if o.Token == nil {
			err = errors.New("no token source")
			break
		}
		var tok string
		if tok, err = o.Token(ctx); err == nil {
			err = d.timed(c, func() error { return c.Authenticate(&xoauth2{user: o.Username, token: tok}) })
		}
	default:
		err = fmt.Errorf("unknown auth %q", o.Auth)
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap: login as %s: %w", o.Username, err)
	}
	return c, newMail, nil
}

// loginPassword logs in with the password: AUTHENTICATE PLAIN (RFC 4616)
// where the server offers it, unless the LOGIN command is asked for, else
// LOGIN, which a server advertising LOGINDISABLED refuses: there the
// password is not sent at all.
func loginPassword(c *imapclient.Client, user, password string, useLogin bool) error {
	caps := c.Caps()
	if !useLogin && caps.Has(imap.AuthCap(sasl.Plain)) {
		return c.Authenticate(sasl.NewPlainClient("", user, password))
	}
	if caps.Has(imap.CapLoginDisabled) {
		return errors.New("the server refuses LOGIN (LOGINDISABLED), so the password was not sent (is TLS off?)")
	}
	return c.Login(user, password).Wait()
}

// timed runs an IMAP exchange and closes the connection if the server does
// not answer in time (the library sets no deadline on the first byte).
func (d *Daemon) timed(c *imapclient.Client, fn func() error) error {
	timeout := d.o.IMAP.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	t := time.AfterFunc(timeout, func() { c.Close() })
	defer t.Stop()
	return fn()
}

// xoauth2 is the SASL XOAUTH2 mechanism (Google, Microsoft): go-sasl does
// not provide it.
type xoauth2 struct{ user, token string }

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an empty
// response, as the mechanism requires; the command then fails with it.
func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// messageID reads the Message-ID from the header alone ("" when absent or
// unreadable): the whole message is parsed later, once, when it is decided.
func messageID(raw []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return ""
	}
	mh := gomail.Header{Header: message.Header{Header: h}}
	id, err := mh.MessageID()
	if err != nil {
		return ""
	}
	return id
}
