package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"intake/intake/imapbox"
	"intake/intake/signin"
	"intake/parser/email"
	"intake/store"
)

// IMAPOptions say how to reach a mailbox.
type IMAPOptions struct {
	Addr      string      // host:port
	TLS       string      // "tls" (default), "starttls", or "none" (loopback tests only)
	TLSConfig *tls.Config // nil: system roots, ServerName from Addr
	// SignIn is how to sign in (see package signin). Nil: the password
	// (AUTHENTICATE PLAIN where offered, else LOGIN) of Username.
	SignIn   *signin.Method
	Username string
	Password string
	Mailbox  string        // default INBOX
	Timeout  time.Duration // per exchange with the server (default 2 min): a silent server is disconnected
	// DisableIdle polls every PollInterval even where the server offers
	// IDLE (for servers or proxies whose IDLE is unreliable).
	DisableIdle bool
	// BatchBytes bounds the memory of one fetch command: the sum of the
	// sizes (RFC822.SIZE) of the messages it fetches whole (default 64 MiB).
	// A message larger than that is fetched alone.
	BatchBytes int64
}

// Mailbox is one more mailbox the daemon answers (Options.Mailboxes).
type Mailbox struct {
	// Name keys the mailbox in the store (its cursor, where its mail is);
	// unique among the daemon's mailboxes. The first mailbox (Options.IMAP)
	// is keyed by its folder name (INBOX), as it always was.
	Name    string
	IMAP    IMAPOptions
	Folders Folders // empty ones: Options.Folders
}

const (
	fetchBatchMax     = 50       // messages fetched by one command, at most
	defaultBatchBytes = 64 << 20 // their total size, at most (IMAPOptions.BatchBytes)
	metaChunk         = 500      // UIDs whose sizes and dates one command asks for

	// maxReconnectWait caps the wait before reconnecting, whatever the
	// backoff of replies says (Options.Backoff reaches an hour).
	maxReconnectWait = 5 * time.Minute
	// probeEvery: while a server is away, it is probed this often, and the
	// daemon reconnects as soon as it answers.
	probeEvery = 2 * time.Second
)

// mailbox is a mailbox as the daemon runs it.
type mailbox struct {
	name    string
	imap    IMAPOptions
	folders Folders
	wake    chan struct{} // mail was decided: file it
}

// mailboxes makes the mailboxes of o (its defaults filled in): IMAP's,
// keyed by its folder name as it always was, then Mailboxes, each named
// once, with the folders they leave out taken from o.Folders.
func mailboxes(o Options) ([]*mailbox, error) {
	boxes := []*mailbox{{name: o.IMAP.Mailbox, imap: o.IMAP, folders: o.Folders, wake: make(chan struct{}, 1)}}
	seen := map[string]bool{o.IMAP.Mailbox: true}
	for i, m := range o.Mailboxes {
		if m.Name == "" {
			return nil, fmt.Errorf("intake: mailbox %d has no name", i+1)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("intake: two mailboxes are named %q (the name keys a mailbox's cursor and mail in the store)", m.Name)
		}
		seen[m.Name] = true
		if m.IMAP.Mailbox == "" {
			m.IMAP.Mailbox = "INBOX"
		}
		f := &m.Folders
		for _, p := range [][2]*string{
			{&f.Accepted, &o.Folders.Accepted}, {&f.Deficient, &o.Folders.Deficient}, {&f.Ignored, &o.Folders.Ignored},
			{&f.Bounces, &o.Folders.Bounces}, {&f.Quarantine, &o.Folders.Quarantine}, {&f.Questions, &o.Folders.Questions},
		} {
			if *p[0] == "" {
				*p[0] = *p[1]
			}
		}
		boxes = append(boxes, &mailbox{name: m.Name, imap: m.IMAP, folders: m.Folders, wake: make(chan struct{}, 1)})
	}
	return boxes, nil
}

// folder is where this mailbox files a message the pipeline filed to
// folder (one of Options.Folders): the folder of the same role here.
func (b *mailbox) folder(d *Daemon, folder string) string {
	def := d.o.Folders
	for _, r := range [][2]string{
		{def.Accepted, b.folders.Accepted}, {def.Deficient, b.folders.Deficient}, {def.Ignored, b.folders.Ignored},
		{def.Bounces, b.folders.Bounces}, {def.Quarantine, b.folders.Quarantine}, {def.Questions, b.folders.Questions},
	} {
		if folder == r[0] {
			return r[1]
		}
	}
	return folder
}

// boxOptions is the imapbox view of a mailbox's settings.
func (d *Daemon) boxOptions(b *mailbox) imapbox.Options {
	o := b.imap
	m := o.SignIn
	if m == nil {
		m = signin.Password(o.Username, o.Password, false)
	}
	return imapbox.Options{Addr: o.Addr, TLS: o.TLS, TLSConfig: o.TLSConfig, SignIn: m, Timeout: o.Timeout,
		Refused: func(err error) { d.signinFailed("imap "+b.name, err) }}
}

// RunFetcher runs one fetch loop per mailbox until ctx ends.
func (d *Daemon) RunFetcher(ctx context.Context) {
	done := make(chan struct{}, len(d.boxes))
	for _, b := range d.boxes {
		go func() {
			defer func() { done <- struct{}{} }()
			d.runBox(ctx, b)
		}()
	}
	for range d.boxes {
		<-done
	}
}

// runBox keeps an IMAP session open on one mailbox until ctx ends,
// reconnecting when it breaks. The wait before reconnecting grows with
// Backoff, up to maxReconnectWait; but when the server had gone away (the
// connection lost, or refused), it is probed every probeEvery and the
// session starts again as soon as the server answers.
func (d *Daemon) runBox(ctx context.Context, b *mailbox) {
	attempt := 0
	for ctx.Err() == nil {
		started := time.Now()
		err, lost := d.session(ctx, b)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > 5*time.Minute {
			attempt = 0 // it worked for a while: start the backoff afresh
		}
		attempt++
		wait := min(d.o.Backoff(attempt), maxReconnectWait)
		d.metrics.IMAPReconnects.Inc()
		d.log.Warn("imap: session ended, reconnecting", "mailbox", b.name, "err", err, "attempt", attempt, "wait", wait, "probing", lost)
		if !d.waitToReconnect(ctx, b, wait, lost) {
			return
		}
	}
}

// waitToReconnect waits for wait, or, when probe is set, until the server
// answers a probe (every probeEvery), whichever comes first. It reports
// whether ctx is still live.
func (d *Daemon) waitToReconnect(ctx context.Context, b *mailbox, wait time.Duration, probe bool) bool {
	if !probe || wait <= probeEvery {
		return sleep(ctx, wait)
	}
	deadline := time.Now().Add(wait)
	for {
		if !sleep(ctx, min(probeEvery, time.Until(deadline))) {
			return false
		}
		if !time.Now().Before(deadline) {
			return true
		}
		if imapbox.Probe(ctx, d.boxOptions(b), probeEvery) == nil {
			d.log.Info("imap: the server answers again", "mailbox", b.name)
			return true
		}
	}
}

// session runs one connection: select, then fetch, file and wait for new
// mail until the connection breaks or ctx ends. lost reports that the
// server went away (the connection could not be made, or broke), rather
// than refused us or failed a command.
func (d *Daemon) session(ctx context.Context, b *mailbox) (err error, lost bool) {
	c, err := imapbox.Dial(ctx, d.boxOptions(b))
	if err != nil {
		var se *imapbox.SignInError
		if errors.As(err, &se) {
			// Refusals were recorded as they came (Options.Refused); no
			// token, or a mechanism the server does not offer, is
			// recorded here.
			if !se.Refused {
				d.signinFailed("imap "+b.name, err)
			}
			return err, false
		}
		return err, true
	}
	d.signedIn("imap " + b.name)
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer func() { lost = connLost(c, err) }()

	sel, err := c.Select(b.imap.Mailbox, d.o.DryRun)
	if err != nil {
		return err, false
	}
	if !d.o.DryRun {
		f := b.folders
		for _, name := range []string{f.Accepted, f.Deficient, f.Ignored, f.Bounces, f.Quarantine, f.Questions} {
			c.Create(name)
		}
	}
	d.log.Info("imap: connected", "mailbox", b.name, "folder", b.imap.Mailbox, "uidvalidity", sel.UIDValidity, "messages", sel.NumMessages,
		"idle", c.CanIdle(b.imap.DisableIdle), "move", c.Has(imap.CapMove))
	for {
		// Drain the signals first: what comes from here on wakes the wait below.
		c.DrainNewMail()
		select {
		case <-b.wake:
		default:
		}
		if err := d.step(ctx, b, c, sel); err != nil {
			return err, false
		}
		if err := c.WaitForMail(ctx, d.o.PollInterval, b.imap.DisableIdle, b.wake); err != nil {
			return err, false
		}
	}
}

// connLost reports whether a session ended because the connection did
// (closed, reset, at EOF, a network error), as opposed to an answer of the
// server or a failure of ours. The reader may not have seen the end yet
// when a write fails: the error tells too.
func connLost(c *imapbox.Conn, err error) bool {
	select {
	case <-c.Closed():
		return true
	default:
	}
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// step is one round of the fetch loop: fetch and store new mail, handing
// it to the workers as each batch is stored (and any mail still pending,
// such as a message whose last attempt failed), file what was decided,
// wake the outbox. It does not wait for mail to be decided: a worker that
// decides one wakes the loop for the next round, which files it.
func (d *Daemon) step(ctx context.Context, b *mailbox, c *imapbox.Conn, sel *imap.SelectData) error {
	if err := d.fetchNew(ctx, b, c, sel); err != nil {
		return err
	}
	if _, err := d.schedule(ctx); err != nil {
		return err
	}
	// Filing is a round trip to the server and an fsync: while a backlog
	// is being decided it is done for many messages at once.
	if d.pool.fileDue(time.Now()) {
		if err := d.file(ctx, b, c, sel.UIDValidity); err != nil {
			return err
		}
	}
	d.markPolled(d.o.Now())
	d.kickOutbox()
	return nil
}

// fetchNew stores every message above the cursor, raw and whole, before
// anything else happens to it; the cursor moves only after a batch is stored.
func (d *Daemon) fetchNew(ctx context.Context, b *mailbox, c *imapbox.Conn, sel *imap.SelectData) error {
	box := b.name
	cur, ok, err := d.o.Store.Cursor(ctx, box)
	if err != nil {
		return err
	}
	switch {
	case !ok && d.o.StartFromNow:
		// Start from now: mail already in the mailbox is left alone, now and
		// (SkipBefore) after a renumbering of the mailbox.
		last, err := c.LastUIDAtSelect(sel)
		if err != nil {
			return err
		}
		mark := d.o.Now()
		if last > 0 {
			// The server's clock dates the mail: where it runs ahead of ours,
			// its date of the last old message is the later mark.
			t, err := c.InternalDate(last)
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
			last, err := c.LastUIDAtSelect(sel)
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
	uids, err := c.UIDsAbove(cur.LastUID)
	if err != nil {
		return err
	}
	left := 0
	defer func() {
		if left > 0 {
			d.log.Warn("imap: rescan left alone mail that was in the mailbox before start-from-now", "mailbox", box, "count", left)
		}
	}()
	budget := b.imap.BatchBytes
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
		metas, err := c.FetchMeta(chunk)
		if err != nil {
			return err
		}
		for _, batch := range planBatches(metas, budget, fetchBatchMax, d.o.MaxMessageBytes) {
			n, err := d.fetchBatch(ctx, b, c, cur, batch)
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

// planBatches cuts ms (in UID order) into runs fetched by one command
// each: at most maxCount messages, whose sizes sum to at most budget. A
// message over maxMessage is fetched header-only and costs nothing here
// (the count bounds those headers); one larger than budget goes alone.
func planBatches(ms []imapbox.Meta, budget int64, maxCount int, maxMessage int64) [][]imapbox.Meta {
	var batches [][]imapbox.Meta
	var cur []imapbox.Meta
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

// fetchBatch fetches and stores one batch. During a rescan after a change
// of UIDVALIDITY, mail that was in the mailbox before "start from now" began
// and is not already stored is left alone: not stored, so neither answered
// nor filed. It returns how many messages it left alone.
func (d *Daemon) fetchBatch(ctx context.Context, b *mailbox, c *imapbox.Conn, cur store.Cursor, batch []imapbox.Meta) (left int, err error) {
	var whole, big, old []imap.UID
	info := map[imap.UID]imapbox.Meta{}
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
		if err := c.FetchEach(old, true, func(uid imap.UID, hdr []byte) error {
			m := info[uid]
			var known bool
			var err error
			switch {
			case m.Size > d.o.MaxMessageBytes: // it would be stored header-only: this is all of it
				if known, err = d.o.Store.Known(ctx, "", email.DedupeKey(hdr)); err == nil && known {
					err = d.save(ctx, b, cur.UIDValidity, uid, hdr, true, m.Size, m.Internal)
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
				d.leaveAlone(b, uid, m, cur)
			}
			return err
		}); err != nil {
			return left, err
		}
	}
	for _, part := range []struct {
		uids       []imap.UID
		headerOnly bool
		check      bool
	}{
		{whole, false, false},
		{big, true, false},
		{check, false, true},
	} {
		if err := c.FetchEach(part.uids, part.headerOnly, func(uid imap.UID, raw []byte) error {
			mi := info[uid]
			if part.check {
				known, err := d.o.Store.Known(ctx, "", email.DedupeKey(raw))
				if err != nil || !known {
					if err == nil {
						left++
						d.leaveAlone(b, uid, mi, cur)
					}
					return err
				}
			}
			d.failpoint(PointFetched, 0)
			return d.save(ctx, b, cur.UIDValidity, uid, raw, part.headerOnly, mi.Size, mi.Internal)
		}); err != nil {
			return left, err
		}
	}
	return left, nil
}

// leaveAlone logs a message a rescan does not take: it was in the mailbox
// before "start from now" began, and was never stored.
func (d *Daemon) leaveAlone(b *mailbox, uid imap.UID, m imapbox.Meta, cur store.Cursor) {
	d.metrics.LeftAlone.Inc()
	d.log.Info("imap: left alone: in the mailbox before start-from-now", "mailbox", b.name, "uidvalidity", cur.UIDValidity, "uid", uint32(uid),
		"internal_date", m.Internal, "skip_before", cur.SkipBefore)
}

func (d *Daemon) save(ctx context.Context, b *mailbox, uidValidity uint32, uid imap.UID, raw []byte, truncated bool, size int64, internal time.Time) error {
	msgID := messageID(raw)
	now := d.o.Now()
	if internal.IsZero() {
		internal = now
	}
	id, created, err := d.o.Store.SaveRaw(ctx, store.RawMessage{
		Mailbox: b.name, UIDValidity: uidValidity, UID: uint32(uid),
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
	d.log.Info("fetch: stored", "mailbox", b.name, "uidvalidity", uidValidity, "uid", uint32(uid), "message", id, "new", created, "bytes", len(raw), "truncated", truncated)
	return nil
}

// file moves every decided message to its folder. It runs only on what
// the store has committed, so a crash before the move leaves the mail in
// place, and a crash after it leaves only a no-op move to repeat.
func (d *Daemon) file(ctx context.Context, b *mailbox, c *imapbox.Conn, uidValidity uint32) error {
	locs, err := d.o.Store.Unfiled(ctx, b.name, uidValidity)
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
		folder := b.folder(d, l.Folder)
		if _, ok := byFolder[folder]; !ok {
			folders = append(folders, folder)
		}
		byFolder[folder] = append(byFolder[folder], l)
	}
	for _, folder := range folders {
		group := byFolder[folder]
		if d.o.DryRun {
			for _, l := range group {
				d.log.Info("dry run: would file", "mailbox", b.name, "uid", l.UID, "folder", folder)
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
		if err := c.File(uids, folder); err != nil {
			if errors.Is(err, imapbox.ErrRefused) {
				// The server refused this folder (quota, rights, a
				// folder gone): the mail stays unfiled, to be tried
				// again next round, and the rest of the work goes on.
				d.log.Error("imap: filing refused; will retry", "mailbox", b.name, "folder", folder, "count", len(uids), "err", err)
				continue
			}
			return err
		}
		d.failpoint(PointFiled, 0)
		if err := d.o.Store.MarkFiled(ctx, ids, d.o.Now()); err != nil {
			return err
		}
		d.metrics.Filed.Add(float64(len(ids)))
		d.log.Info("imap: filed", "mailbox", b.name, "folder", folder, "count", len(ids))
	}
	return nil
}

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
