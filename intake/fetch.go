package intake

import (
	"bufio"
	"bytes"
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
	// Auth is "plain" (LOGIN, the default) or "xoauth2", which sends the
	// token Token returns.
	Auth    string
	Token   func(ctx context.Context) (string, error)
	Mailbox string        // default INBOX
	Timeout time.Duration // per command (default 2 min)
	// DisableIdle polls every PollInterval even where the server offers
	// IDLE (for servers or proxies whose IDLE is unreliable).
	DisableIdle bool
}

// fetchBatch bounds the messages fetched by one command.
const fetchBatch = 20

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
		if err := d.Step(ctx, c, sel); err != nil {
			return err
		}
		if err := d.waitForMail(ctx, c, newMail); err != nil {
			return err
		}
	}
}

// Step is one round of the fetch loop: fetch and store new mail, process
// everything pending, file what was decided, wake the outbox.
func (d *Daemon) Step(ctx context.Context, c *imapclient.Client, sel *imap.SelectData) error {
	if err := d.fetchNew(ctx, c, sel); err != nil {
		return err
	}
	if _, err := d.ProcessPending(ctx); err != nil {
		return err
	}
	if err := d.file(ctx, c, sel.UIDValidity); err != nil {
		return err
	}
	d.kickOutbox()
	return nil
}

// waitForMail returns when the server reports new mail, after the poll
// interval, or with an error when the connection or ctx ends.
func (d *Daemon) waitForMail(ctx context.Context, c *imapclient.Client, newMail <-chan struct{}) error {
	timer := time.NewTimer(d.o.PollInterval)
	defer timer.Stop()
	if d.o.IMAP.DisableIdle || !c.Caps().Has(imap.CapIdle) {
		select {
		case <-timer.C:
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
		// Start from now: mail already in the mailbox is left alone.
		cur = store.Cursor{UIDValidity: sel.UIDValidity, LastUID: uint32(sel.UIDNext) - 1}
		if sel.UIDNext == 0 {
			cur.LastUID = 0
		}
		d.log.Info("imap: starting from now", "mailbox", box, "skipped_up_to_uid", cur.LastUID)
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
		// content and filed, not answered again.
		d.log.Warn("imap: UIDVALIDITY changed, rescanning", "mailbox", box, "old", cur.UIDValidity, "new", sel.UIDValidity)
		cur = store.Cursor{UIDValidity: sel.UIDValidity}
		if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
			return err
		}
	}
	var uids []imap.UID
	if err := d.timed(c, func() error {
		crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(cur.LastUID + 1), Stop: 0}}}}
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
		return fmt.Errorf("imap: search: %w", err)
	}
	// "N:*" returns the highest UID even when it is below N: keep only new ones.
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return uint32(u) <= cur.LastUID })
	slices.Sort(uids)
	for len(uids) > 0 {
		n := min(len(uids), fetchBatch)
		batch := uids[:n]
		uids = uids[n:]
		if err := d.fetchBatch(ctx, c, sel.UIDValidity, batch); err != nil {
			return err
		}
		cur.LastUID = uint32(batch[len(batch)-1])
		if err := d.o.Store.SetCursor(ctx, box, cur); err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) fetchBatch(ctx context.Context, c *imapclient.Client, uidValidity uint32, uids []imap.UID) error {
	// First the sizes: an oversized message is fetched header-only.
	var meta []*imapclient.FetchMessageBuffer
	if err := d.timed(c, func() (err error) {
		meta, err = c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("imap: fetch sizes: %w", err)
	}
	var whole, big []imap.UID
	info := map[imap.UID]*imapclient.FetchMessageBuffer{}
	for _, m := range meta {
		info[m.UID] = m
		if m.RFC822Size > d.o.MaxMessageBytes {
			big = append(big, m.UID)
		} else {
			whole = append(whole, m.UID)
		}
	}
	for _, part := range []struct {
		uids      []imap.UID
		section   *imap.FetchItemBodySection
		truncated bool
	}{
		{whole, &imap.FetchItemBodySection{Peek: true}, false},
		{big, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}, true},
	} {
		if len(part.uids) == 0 { // an empty UID set kills the connection
			continue
		}
		var msgs []*imapclient.FetchMessageBuffer
		if err := d.timed(c, func() (err error) {
			msgs, err = c.Fetch(imap.UIDSetNum(part.uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{part.section}}).Collect()
			return err
		}); err != nil {
			return fmt.Errorf("imap: fetch: %w", err)
		}
		for _, m := range msgs {
			raw := m.FindBodySection(part.section)
			if raw == nil {
				return fmt.Errorf("imap: fetch uid %d: no body returned", m.UID)
			}
			mi := info[m.UID]
			if mi == nil {
				mi = &imapclient.FetchMessageBuffer{}
			}
			d.failpoint(PointFetched, 0)
			if err := d.save(ctx, uidValidity, m.UID, raw, part.truncated, mi.RFC822Size, mi.InternalDate); err != nil {
				return err
			}
		}
	}
	return nil
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
			return fmt.Errorf("imap: file to %s: %w", folder, err)
		}
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
	if _, err := c.Copy(set, folder).Wait(); err != nil {
		return err
	}
	return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
}

func (d *Daemon) createFolders(c *imapclient.Client) {
	f := d.o.Folders
	for _, name := range []string{f.Accepted, f.Deficient, f.Ignored, f.Bounces, f.Quarantine} {
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
		err = d.timed(c, func() error { return c.Login(o.Username, o.Password).Wait() })
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
