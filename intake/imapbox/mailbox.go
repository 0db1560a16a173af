package imapbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Select opens mailbox (read-only: EXAMINE).
func (conn *Conn) Select(mailbox string, readOnly bool) (sel *imap.SelectData, err error) {
	err = conn.timed(func() error {
		sel, err = conn.c.Select(mailbox, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("imap: select %s: %w", mailbox, err)
	}
	return sel, nil
}

// Create creates a folder; one that exists already is no error (NO
// [ALREADYEXISTS]), nor is any other refusal: it shows later as a failed
// filing, with its reason.
func (conn *Conn) Create(name string) {
	_ = conn.timed(func() error { return conn.c.Create(name, nil).Wait() })
}

// Search runs UID SEARCH.
func (conn *Conn) Search(crit *imap.SearchCriteria) ([]imap.UID, error) {
	var uids []imap.UID
	if err := conn.timed(func() error {
		data, err := conn.c.UIDSearch(crit, nil).Wait()
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

// UIDsAbove returns the UIDs above last, ascending. ("N:*" answers the
// highest UID even when it is below N: those are dropped.)
func (conn *Conn) UIDsAbove(last uint32) ([]imap.UID, error) {
	uids, err := conn.Search(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(last + 1), Stop: 0}}}})
	if err != nil {
		return nil, err
	}
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return uint32(u) <= last })
	slices.Sort(uids)
	return uids, nil
}

// LastUIDAtSelect returns the highest UID the mailbox held when it was
// selected: UIDNEXT - 1, or, from a server that sent no UIDNEXT (it is
// optional in RFC 3501), the UID of the last message then.
func (conn *Conn) LastUIDAtSelect(sel *imap.SelectData) (imap.UID, error) {
	if sel.UIDNext > 0 {
		return sel.UIDNext - 1, nil
	}
	if sel.NumMessages == 0 {
		return 0, nil
	}
	// "n:*" holds the last message at SELECT and whatever came since: the
	// smallest UID is the one wanted.
	uids, err := conn.Search(&imap.SearchCriteria{SeqNum: []imap.SeqSet{{imap.SeqRange{Start: sel.NumMessages, Stop: 0}}}})
	if err != nil || len(uids) == 0 {
		return 0, err
	}
	return slices.Min(uids), nil
}

// Meta is what is known of a message before its content is fetched.
type Meta struct {
	UID      imap.UID
	Size     int64     // RFC822.SIZE
	Internal time.Time // INTERNALDATE
}

// FetchMeta fetches the sizes and dates of uids, in UID order; messages
// expunged meanwhile are missing.
func (conn *Conn) FetchMeta(uids []imap.UID) ([]Meta, error) {
	if len(uids) == 0 { // an empty UID set kills the connection
		return nil, nil
	}
	var msgs []*imapclient.FetchMessageBuffer
	if err := conn.timed(func() (err error) {
		msgs, err = conn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		return err
	}); err != nil {
		return nil, fmt.Errorf("imap: fetch sizes: %w", err)
	}
	metas := make([]Meta, 0, len(msgs))
	for _, m := range msgs {
		if m.UID != 0 {
			metas = append(metas, Meta{UID: m.UID, Size: m.RFC822Size, Internal: m.InternalDate})
		}
	}
	slices.SortFunc(metas, func(a, b Meta) int { return cmp.Compare(a.UID, b.UID) })
	return slices.CompactFunc(metas, func(a, b Meta) bool { return a.UID == b.UID }), nil
}

var (
	wholeSection  = &imap.FetchItemBodySection{Peek: true}
	headerSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
)

// FetchEach fetches uids in one command, whole or header-only, and hands
// each message's bytes to fn in the server's order; each message is let go
// once fn returns.
func (conn *Conn) FetchEach(uids []imap.UID, headerOnly bool, fn func(imap.UID, []byte) error) error {
	if len(uids) == 0 { // an empty UID set kills the connection
		return nil
	}
	section := wholeSection
	if headerOnly {
		section = headerSection
	}
	var msgs []*imapclient.FetchMessageBuffer
	if err := conn.timed(func() (err error) {
		msgs, err = conn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("imap: fetch: %w", err)
	}
	for i, m := range msgs {
		raw := m.FindBodySection(section)
		if raw == nil {
			return fmt.Errorf("imap: fetch uid %d: no body returned", m.UID)
		}
		msgs[i] = nil
		if err := fn(m.UID, raw); err != nil {
			return err
		}
	}
	return nil
}

// ErrRefused wraps a filing the server refused (quota, rights, a folder
// gone): the connection is fine, the mail stays where it is.
var ErrRefused = errors.New("imap: refused")

// File moves uids to folder: MOVE (RFC 6851), or where the server lacks it
// UID COPY + \Deleted + UID EXPUNGE (UIDPLUS, so only ours go). A server
// with neither offers only a plain EXPUNGE, which would also remove what
// other clients marked \Deleted: there the originals are only marked, and
// left for their owner. Filing again what was filed is harmless: without
// MOVE, only messages not yet marked are copied.
func (conn *Conn) File(uids []imap.UID, folder string) error {
	if len(uids) == 0 {
		return nil
	}
	err := conn.timed(func() error { return conn.file(uids, folder) })
	var refused *imap.Error
	if errors.As(err, &refused) {
		return fmt.Errorf("%w: file to %s: %w", ErrRefused, folder, err)
	}
	if err != nil {
		return fmt.Errorf("imap: file to %s: %w", folder, err)
	}
	return nil
}

func (conn *Conn) file(uids []imap.UID, folder string) error {
	c := conn.c
	set := imap.UIDSetNum(uids...)
	if c.Caps().Has(imap.CapMove) || c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		_, err := c.Move(set, folder).Wait()
		return err
	}
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

// DrainNewMail forgets a pending new-mail signal: mail arriving after the
// call wakes the next WaitForMail.
func (conn *Conn) DrainNewMail() {
	select {
	case <-conn.newMail:
	default:
	}
}

// CanIdle reports whether WaitForMail will IDLE.
func (conn *Conn) CanIdle(disable bool) bool { return !disable && conn.c.Caps().Has(imap.CapIdle) }

// WaitForMail returns when the server reports new mail, when wake is
// signalled (nil: never), after poll, or with an error when the
// connection or ctx ends. Where the server offers
// IDLE (and disableIdle is false) it idles, for at most MaxIdle at a time;
// else it only waits. The end of an IDLE is an exchange like any other,
// under the deadline: a server gone silent is found out there.
func (conn *Conn) WaitForMail(ctx context.Context, poll time.Duration, disableIdle bool, wake <-chan struct{}) error {
	timer := time.NewTimer(IdlePeriod(poll, conn.CanIdle(disableIdle)))
	defer timer.Stop()
	if !conn.CanIdle(disableIdle) {
		select {
		case <-timer.C:
			return nil
		case <-wake:
			return nil
		case <-conn.c.Closed():
			return errors.New("imap: connection closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Idle waits for the server's go-ahead: an exchange like any other,
	// under the deadline.
	var idle *imapclient.IdleCommand
	if err := conn.timed(func() (err error) {
		idle, err = conn.c.Idle()
		return err
	}); err != nil {
		return fmt.Errorf("imap: idle: %w", err)
	}
	select {
	case <-conn.newMail:
	case <-wake:
	case <-timer.C:
	case <-conn.c.Closed():
		return errors.New("imap: connection closed while idling")
	case <-ctx.Done():
		return ctx.Err()
	}
	return conn.timed(func() error {
		if err := idle.Close(); err != nil {
			return fmt.Errorf("imap: end idle: %w", err)
		}
		return idle.Wait()
	})
}

// IdlePeriod is how long one wait lasts: the poll interval, and while
// idling never more than MaxIdle.
func IdlePeriod(poll time.Duration, idling bool) time.Duration {
	if idling && (poll <= 0 || poll > MaxIdle) {
		return MaxIdle
	}
	return poll
}

// InternalDate returns when the server received a message (zero if it is
// gone).
func (conn *Conn) InternalDate(uid imap.UID) (time.Time, error) {
	var msgs []*imapclient.FetchMessageBuffer
	if err := conn.timed(func() (err error) {
		msgs, err = conn.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
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
