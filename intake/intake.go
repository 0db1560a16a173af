// Package intake runs the mailbox's robot clerk: it fetches mail over IMAP,
// stores each raw message before anything else, decides what it is (a
// submission, a bounce of one of our replies, an auto-reply, a forgery),
// checks submissions against their data call, commits the outcome and the
// reply in one transaction, files the mail on the server only after that
// commit, and sends replies from the outbox.
//
// It is the only package that talks to mail servers. Parsing and checking
// belong to parser, SQL to store, message building to reply.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
)

// Agency is one agency allowed to submit, and the addresses it sends from.
type Agency struct {
	Code     string   // OPM agency code, e.g. "HS"
	Name     string   // e.g. "Department of Homeland Security"
	Senders  []string // allowed sender addresses, or "@domain" for a whole domain
	Contacts []string // where reminders go; default: the exact addresses among Senders
	// WorkbookPassword opens the agency's encrypted workbooks when set (a
	// secret: never logged, stored or echoed). Without it, a password
	// comes in a second mail (pii.go).
	WorkbookPassword string
}

// Folders are the mailboxes mail is filed into after its outcome is
// committed.
type Folders struct {
	Accepted, Deficient, Ignored, Bounces, Quarantine string
	Questions                                         string // questions for staff (no workbook)
}

// DefaultFolders are used for every folder left empty.
func DefaultFolders() Folders {
	return Folders{Accepted: "Accepted", Deficient: "Deficient", Ignored: "Ignored", Bounces: "Bounces", Quarantine: "Quarantine",
		Questions: "Questions"}
}

// Options configure a Daemon. Store, Calls and Reply are required; every
// other zero value means "the default".
type Options struct {
	Store    *store.Store
	Calls    *parser.Registry
	Ref      *parser.Reference // reference data; nil skips reference checks
	Agencies []Agency
	Reply    *reply.Builder
	From     string   // the bot's address (From of replies)
	Own      []string // further addresses of the bot (never answered)
	// DefaultCall answers mail that names no call (no spreadsheet, no
	// keyword): its id, or "" to use the only call when there is one.
	DefaultCall string

	IMAP    IMAPOptions
	SMTP    SMTPOptions
	Folders Folders
	// Mailboxes are more mailboxes to answer besides IMAP's (a second
	// data-call address), each with its own folders, each fetched by its
	// own loop; their mail is decided and routed to calls like any.
	Mailboxes []Mailbox
	// Auth says how senders are authenticated; the zero value verifies
	// DKIM and DMARC alignment itself (see email.AuthPolicy).
	Auth email.AuthPolicy
	// SMIME holds the trust anchors (a verified S/MIME signature of the
	// From address authenticates the sender) and the mailbox's certificate
	// and key (mail encrypted to it is decrypted; replies holding personal
	// data are encrypted to the agency's certificate when one is known).
	// Its Now is set per message.
	SMIME email.SMIMEKeys
	// PasswordWindow: how long an encrypted workbook without a password
	// waits for the password mail (default 24 hours).
	PasswordWindow time.Duration
	// Resolver looks up DKIM keys and DMARC records for Auth mode verify
	// (default: the system's resolver).
	Resolver Resolver

	MaxAttempts int // processing attempts before quarantine (default 3)
	// Workers decide mail side by side (default: the number of CPUs, at
	// least 2). The mail of one agency is decided in arrival order, one
	// at a time; see workers.go.
	Workers int
	// LargeMessageBytes: messages at least this large take at most
	// Workers-1 workers at once, so small mail always has one (default 1 MiB).
	LargeMessageBytes int64
	// MaxProcessTime bounds the deciding of one message (reading, checking,
	// annotating, storing); past it the message is quarantined with the
	// reason, for staff (default 5 min).
	MaxProcessTime time.Duration
	RatePerSender  int           // replies per sender per RateWindow (default 20)
	RateWindow     time.Duration // default 1 hour
	MaxSendTries   int           // SMTP attempts before a reply is given up (default 12)
	// ReminderDays: remind agencies without an accepted submission this many
	// days before each deadline; 0 turns reminders off.
	ReminderDays int
	// RawRetention: the raw bytes of mail that was not a submission
	// (refused, ignored, bounces) are purged once older (retention.go);
	// 0 keeps them.
	RawRetention time.Duration

	StartFromNow bool // on first contact with a mailbox, skip the mail already there
	DryRun       bool // read-only: EXAMINE, no filing; replies are stored held (never sent), no reminders

	MaxMessageBytes int64 // larger messages are fetched header-only and answered (default 40 MiB)
	EmailLimits     email.Limits
	Limits          parser.Limits

	PollInterval time.Duration // polling period without IDLE, and IDLE refresh (default 1 min)
	// StaleAfter: Health fails once the last good poll is older (default
	// three poll intervals, at least 5 minutes).
	StaleAfter time.Duration
	Now        func() time.Time
	// Backoff gives the wait before the attempt-th retry (attempt >= 1) of
	// a reply or a reconnection; default exponential from 30 s to 1 h.
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
	// Failpoint, when set, is called as each step of the flow completes
	// (see the Point constants) with the stored message's id, 0 where there
	// is none; the crash tests kill the process there, and a panic at
	// PointDecide is a poisonous message.
	Failpoint func(point string, message int64)
}

// Points of the flow where Failpoint is called.
const (
	PointFetched   = "fetched"   // a message was fetched, not yet stored
	PointDecide    = "decide"    // a stored message is being examined
	PointStored    = "stored"    // its raw bytes are committed
	PointCompleted = "completed" // its records and reply are committed
	PointSent      = "sent"      // a reply was accepted by the SMTP server, not yet marked sent
	PointFiling    = "filing"    // a message is about to be moved to its folder
	PointFiled     = "filed"     // messages were moved to their folder, not yet recorded as filed
)

func (d *Daemon) failpoint(point string, message int64) {
	if d.o.Failpoint != nil {
		d.o.Failpoint(point, message)
	}
}

// Daemon is the running clerk. Build it with New; Run runs it.
type Daemon struct {
	o        Options
	log      *slog.Logger
	metrics  *Metrics
	kick     chan struct{} // wakes the outbox
	paired   chan struct{} // wakes RunWaits: a workbook's password came (pii.go)
	lastPoll atomic.Int64  // Unix ns of the last good fetch round (Health); the start before one
	boxes    []*mailbox    // the mailboxes answered: IMAP's first, then Mailboxes
	// pool holds the mail waiting to be decided; its workers decide the
	// mail of one agency one at a time (versions are read then written).
	pool *pool
	// deciding counts decisions under way, those given up on at their
	// deadline or at a stop too (until they end on their own).
	deciding sync.WaitGroup
	signin   signinState // a sign-in refused, per server, until one succeeds (Health)
}

// stopGrace is how long Run waits, once its context ends, for decisions
// given up on to end on their own: the whole stop stays well within 5 s.
const stopGrace = 2 * time.Second

// New checks the options and fills in defaults.
func New(o Options) (*Daemon, error) {
	if o.Store == nil || o.Calls == nil || o.Reply == nil {
		return nil, errors.New("intake: Store, Calls and Reply are required")
	}
	if o.From == "" {
		return nil, errors.New("intake: From (the bot's address) is required")
	}
	def := DefaultFolders()
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&o.Folders.Accepted, def.Accepted}, {&o.Folders.Deficient, def.Deficient}, {&o.Folders.Ignored, def.Ignored},
		{&o.Folders.Bounces, def.Bounces}, {&o.Folders.Quarantine, def.Quarantine}, {&o.Folders.Questions, def.Questions},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RatePerSender <= 0 {
		o.RatePerSender = 20
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Hour
	}
	if o.PasswordWindow <= 0 {
		o.PasswordWindow = 24 * time.Hour
	}
	if o.MaxSendTries <= 0 {
		o.MaxSendTries = 12
	}
	if o.SMTP.Connections <= 0 {
		o.SMTP.Connections = defaultSMTPConnections
	}
	if o.Workers <= 0 {
		o.Workers = max(2, runtime.NumCPU())
	}
	if o.LargeMessageBytes <= 0 {
		o.LargeMessageBytes = 1 << 20
	}
	if o.MaxProcessTime <= 0 {
		o.MaxProcessTime = 5 * time.Minute
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 40 << 20
	}
	if o.EmailLimits == (email.Limits{}) {
		o.EmailLimits = email.DefaultLimits()
	}
	if o.Limits == (parser.Limits{}) {
		o.Limits = parser.DefaultLimits()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Minute
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = max(3*o.PollInterval, minStaleAfter)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff == nil {
		o.Backoff = ExponentialBackoff(30*time.Second, time.Hour)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.IMAP.Mailbox == "" {
		o.IMAP.Mailbox = "INBOX"
	}
	if err := checkAuthMode(o); err != nil {
		return nil, err
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.DefaultCall != "" && o.Calls.Get(o.DefaultCall) == nil {
		return nil, fmt.Errorf("intake: default call %q is not defined", o.DefaultCall)
	}
	agencies := make([]Agency, len(o.Agencies)) // normalised copies: the caller's slices stay as they are
	for i, a := range o.Agencies {
		if a.Code == "" {
			return nil, fmt.Errorf("intake: agency %d has no code", i+1)
		}
		a.Senders = slices.Clone(a.Senders)
		for j, s := range a.Senders {
			a.Senders[j] = strings.ToLower(strings.TrimSpace(s))
		}
		agencies[i] = a
	}
	o.Agencies = agencies
	boxes, err := mailboxes(o)
	if err != nil {
		return nil, err
	}
	d := &Daemon{o: o, log: o.Logger, metrics: o.Metrics, kick: make(chan struct{}, 1), paired: make(chan struct{}, 1), boxes: boxes, pool: newPool()}
	d.warnAuth()
	return d, nil
}

// Run fetches, decides, files and sends until ctx ends: the fetch loop
// stores mail and hands it to Workers workers, which decide it side by
// side; the outbox sends each reply as soon as it is committed. It
// reconnects to the mail servers with backoff and returns nil on a clean
// stop, within a few seconds of ctx ending whatever it was doing.
//
// A dry run sends nothing, then or later: the replies it decides on are
// stored held (store.HoldReplies), so a normal run on the same store never
// sends them, and it queues no reminders, which go out once per deadline
// and would be used up by a reminder never sent.
func (d *Daemon) Run(ctx context.Context) error {
	d.markPolled(d.o.Now()) // the start counts as a poll: Health's grace
	var wg sync.WaitGroup
	if d.o.DryRun {
		ctx = store.HoldReplies(ctx, "dry run")
		d.log.Info("dry run: replies are stored held and never sent; no reminders")
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.RunOutbox(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.RunWaits(ctx) // pii.go: workbooks whose password did not come in time
	}()
	if d.o.RawRetention > 0 && !d.o.DryRun {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.RunRetention(ctx)
		}()
	}
	if d.o.ReminderDays > 0 && !d.o.DryRun {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.RunReminders(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.runWorkers(ctx, d.o.Workers)
	}()
	// Mail stored before a crash is queued before anything new arrives.
	if _, err := d.schedule(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("process pending", "err", err)
	}
	d.RunFetcher(ctx)
	wg.Wait()
	// Decisions given up on at the stop end on their own (each step
	// checks the context); wait a little so they release what they hold.
	done := make(chan struct{})
	go func() {
		d.deciding.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopGrace):
		d.log.Warn("intake: stopped with a decision still winding down")
	}
	return nil
}

// kickOutbox wakes the outbox without blocking.
func (d *Daemon) kickOutbox() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// ExponentialBackoff gives first before the first retry (attempt 1) and
// doubles each attempt up to ceiling, never beyond it, with up to 10% added
// at random (less at the ceiling) so a fleet of retries does not align.
// first must be positive and no more than ceiling.
func ExponentialBackoff(first, ceiling time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := first
		for i := 1; i < attempt && d < ceiling; i++ {
			if d > ceiling/2 { // doubling would pass the ceiling (or overflow)
				d = ceiling
				break
			}
			d *= 2
		}
		d = min(d, ceiling)
		jitter := min(d/10, ceiling-d)
		if jitter <= 0 {
			return d
		}
		return d + time.Duration(rand.Int64N(int64(jitter)+1))
	}
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
