package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
	"intake/workbook"
)

// ProcessPending decides every stored message not yet decided and waits
// for them: with Run's workers when Run is running, else with workers of
// its own. One bad message never blocks the rest: it is retried on the next
// round and quarantined after MaxAttempts. It returns how many were
// processed, and the first store failure.
func (d *Daemon) ProcessPending(ctx context.Context) (int, error) {
	var n int
	err := d.withWorkers(ctx, func() error {
		jobs, err := d.schedule(ctx)
		if err != nil {
			return err
		}
		n, err = wait(ctx, jobs)
		return err
	})
	return n, err
}

// Replay processes one message again: a quarantined message after a fix,
// or a rejected one after its sender was added to the allowlist. A message
// already answered with a receipt is refused. Its mailbox copy stays where
// it was filed. It is decided in its sender's turn, after the sender's
// mail already waiting.
func (d *Daemon) Replay(ctx context.Context, id int64) error {
	m, err := d.o.Store.Message(ctx, id)
	if err != nil {
		return err
	}
	if m.Receipt != "" {
		// Its sender was answered with this receipt: processing it again
		// would answer twice. The agency resubmits instead.
		return fmt.Errorf("replay: message %d was already answered with receipt %s; replay is for quarantined, rejected or ignored mail", id, m.Receipt)
	}
	if err := d.o.Store.Replay(ctx, id); err != nil {
		return err
	}
	return d.withWorkers(ctx, func() error {
		jobs, err := d.schedule(ctx)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.id == id {
				_, err := wait(ctx, []*job{j})
				return err
			}
		}
		return nil // decided already by a worker of Run
	})
}

// processOne counts an attempt (committed first, so a message that kills
// the daemon is recognised on restart), decides the message within
// MaxProcessTime and commits the decision. It reports whether the message
// was decided (its outcome committed, or quarantined). Errors returned are
// the store's, or ctx's when the daemon stops; processing failures are
// recorded against the message.
func (d *Daemon) processOne(ctx context.Context, id int64) (decided bool, err error) {
	if d.o.DryRun {
		// Whatever path got here (the fetcher, pending mail, a replay),
		// a dry run's replies are held, never sent.
		ctx = store.HoldReplies(ctx, "dry run")
	}
	now := d.o.Now()
	attempts, err := d.o.Store.BeginAttempt(ctx, id, now)
	if err != nil {
		return false, err
	}
	m, err := d.o.Store.Message(ctx, id)
	if err != nil {
		return false, err
	}
	log := d.log.With("message", id)
	if attempts > d.o.MaxAttempts {
		reason := fmt.Sprintf("gave up after %d attempts: %s", attempts-1, m.LastError)
		log.Error("pipeline: quarantined", "reason", reason)
		d.metrics.Quarantined.Inc()
		return true, d.o.Store.FailAttempt(ctx, id, reason, d.o.Folders.Quarantine, now)
	}
	log.Debug("pipeline: deciding", "attempt", attempts, "bytes", len(m.Raw))
	start := time.Now()
	// The mail's own deadline: reading, checking, annotating and storing
	// all stop when it passes, as when the daemon stops.
	mctx, cancel := context.WithTimeoutCause(ctx, d.o.MaxProcessTime, errDeadline)
	defer cancel()
	c, err := d.decideBounded(mctx, m)
	if c.Submission != nil {
		defer c.Submission.Spool.Close()
	}
	if err == nil {
		c.Message, c.Now = id, now
		_, err = d.o.Store.Complete(mctx, c)
		if err == nil {
			d.failpoint(PointCompleted, id)
			d.metrics.Processed.WithLabelValues(c.Status).Inc()
			d.metrics.ProcessSeconds.Observe(time.Since(start).Seconds())
			log.Info("pipeline: decided", "status", c.Status, "folder", c.Folder, "call", c.Call, "agency", c.Agency, "note", c.Note, "reply", c.Reply != nil)
			return true, nil
		}
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if errors.Is(context.Cause(mctx), errDeadline) {
		// Past its deadline: quarantined at once with the reason, for
		// staff; the rest of the mail goes on. Not tried again: it would
		// take as long the next time.
		reason := fmt.Sprintf("not decided within max_process_time (%s, stopped after %s): quarantined for staff; "+
			"answer the agency, or raise max_process_time and replay it", d.o.MaxProcessTime, time.Since(start).Round(time.Millisecond))
		log.Error("pipeline: quarantined", "reason", reason)
		d.metrics.Quarantined.Inc()
		d.metrics.Failures.Inc()
		return true, d.o.Store.FailAttempt(ctx, id, reason, d.o.Folders.Quarantine, now)
	}
	quarantine := ""
	if attempts >= d.o.MaxAttempts {
		quarantine = d.o.Folders.Quarantine
		d.metrics.Quarantined.Inc()
	}
	d.metrics.Failures.Inc()
	log.Error("pipeline: attempt failed", "attempt", attempts, "err", err, "quarantined", quarantine != "")
	return quarantine != "", d.o.Store.FailAttempt(ctx, id, err.Error(), quarantine, now)
}

// decideBounded is decide, given up on when ctx ends even where a step
// does not look at ctx yet: it returns at once with ctx's error, and the
// abandoned decision ends on its own (its spool closed then), counted in
// d.deciding so a stop can wait for it a little.
func (d *Daemon) decideBounded(ctx context.Context, m *store.Message) (store.Completion, error) {
	type result struct {
		c   store.Completion
		err error
	}
	ch := make(chan result, 1)
	d.deciding.Add(1)
	go func() {
		defer d.deciding.Done()
		c, err := d.decide(ctx, m)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c.Submission != nil {
				_ = r.c.Submission.Spool.Close()
			}
		}()
		return store.Completion{}, context.Cause(ctx)
	}
}

// decide works out what a message is and what to answer. It returns an
// error only when processing itself failed (a bug, the store); every
// problem of the sender's is part of the decision.
func (d *Daemon) decide(ctx context.Context, m *store.Message) (c store.Completion, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pipeline: panic: %v\n%s", r, debug.Stack())
		}
	}()
	d.failpoint(PointDecide, m.ID)
	// S/MIME: decrypted with the mailbox's key and its signature verified
	// before anything is read; the stored raw message stays as it came.
	raw, sm := d.openSMIME(m.Raw, receivedAt(m))
	msg, err := email.Parse(raw, d.o.EmailLimits)
	if err != nil {
		return store.Completion{Status: store.StatusRejected, Folder: d.o.Folders.Quarantine,
			Note: "unreadable message: " + err.Error()}, nil
	}
	c.From = msg.From
	own := d.ownAddresses()

	// A bounce of one of our replies: record it, never answer it. A report
	// about anything else is handled as any other mail (bounce.go).
	if b, ok := email.ParseBounce(msg, m.Raw); ok {
		why, err := d.bounceOfOurs(ctx, msg, b)
		if err != nil {
			return c, err
		}
		if why == "" {
			c.Status, c.Folder = store.StatusBounce, d.o.Folders.Bounces
			c.Bounce = &store.Bounce{ReplyMessageID: b.ReplyMessageID, Recipient: b.Recipient, Reason: b.Reason, Permanent: b.Permanent}
			c.Note = "bounce: " + b.Reason
			return c, nil
		}
		d.log.Info("pipeline: not recorded as a bounce", "message", m.ID, "why", why)
	}
	// Loops and backscatter (RFC 3834): no answer to automatic mail.
	if reason := email.AutoReplyReason(msg, own); reason != "" {
		c.Status, c.Folder, c.Note = store.StatusIgnored, d.o.Folders.Ignored, "not answered: "+reason
		return c, nil
	}
	// Only agencies get in, one author, authenticated (senderauth.go).
	if p := msg.FromProblem(); p != "" {
		c.Status, c.Folder, c.Note = store.StatusRejected, d.o.Folders.Quarantine, "sender refused: "+p
		return c, nil
	}
	agency := d.agencyOf(msg.From)
	if agency == nil {
		c.Status, c.Folder, c.Note = store.StatusRejected, d.o.Folders.Quarantine, "sender is not on any agency's allowlist"
		return c, nil
	}
	c.Agency = agency.Code
	if sm.SignedBy(msg.From) {
		// A verified S/MIME signature of the From address authenticates
		// the sender in its own right, beside DMARC.
		if err := d.rememberSigner(ctx, sm, msg.From, d.o.Now()); err != nil {
			return c, err
		}
	} else if v, err := d.authenticate(ctx, msg, m.Raw); err != nil {
		return c, err
	} else if !v.Pass {
		c.Status, c.Folder, c.Note = store.StatusRejected, d.o.Folders.Quarantine, "sender authentication failed: "+v.Reason
		return c, nil
	}
	// The raw message is not read again: the attachments are decoded
	// copies. Let it go, so a large mail is held once, not twice, while
	// it is checked, annotated and stored.
	m.Raw = nil

	// A mail bringing the password of a workbook that waits for it.
	if pc, ok, err := d.passwordMail(ctx, m, msg, agency.Code, receivedAt(m)); err != nil {
		return c, err
	} else if ok {
		return pc, nil
	}

	var files []parser.Input
	var stored []store.File
	for _, a := range msg.Attachments {
		if !a.Spreadsheet() {
			continue
		}
		files = append(files, parser.Input{Name: a.Name, Data: a.Data})
		stored = append(stored, store.File{Name: a.Name, ContentType: a.ContentType, SHA256: sha256hex(a.Data), Data: a.Data})
	}
	// The same mail again, re-encoded on the way (so its content hash
	// differs): answered once already.
	hashes := make([]string, len(stored))
	for i, f := range stored {
		hashes[i] = f.SHA256
	}
	if first, folder, err := d.o.Store.EarlierCopy(ctx, m.ID, msg.MessageID, msg.From, hashes); err != nil {
		return c, err
	} else if first != 0 {
		c.Status, c.Folder = store.StatusIgnored, folder
		c.Note = fmt.Sprintf("a copy of message %d (same Message-ID, sender and attachments): answered once", first)
		return c, nil
	}
	// Encrypted workbooks are opened with their password for the check;
	// the files stored are the encrypted originals as received.
	dec, wait, purge, err := d.encryptedInputs(ctx, m, msg.From, agency, files)
	if err != nil {
		return c, err
	}
	c.PurgeRaw = purge
	recipients := append(append(append([]string(nil), msg.To...), msg.Cc...), msg.DeliveredTo...)
	def, _ := d.o.Calls.Route(parser.RouteInput{Recipients: recipients, Subject: msg.Subject, Files: dec.Files})
	if def == nil {
		def = d.defaultCall()
	}
	if def == nil {
		// Nothing names a call (no known recipient, workbook or keyword)
		// and no default is configured: check against the first call, whose
		// findings then tell the sender which workbook is expected.
		def = d.o.Calls.All()[0]
	}
	c.Call = def.ID
	// A question: no workbook, and no call's keywords or a question asked
	// (question.go).
	if len(files) == 0 && len(msg.Unread) == 0 && !msg.Incomplete && !m.Truncated && isQuestion(d.o.Calls, msg) {
		named, _ := d.o.Calls.Route(parser.RouteInput{Recipients: recipients, Subject: msg.Subject})
		return d.question(ctx, m, msg, agency, named, c)
	}

	received := receivedAt(m)
	// The records go to a spool on disk as they are read, and from there
	// into the store's transaction: none is held in memory. Cross-kind
	// rules may lean on what the agency already sent, streamed from the
	// store.
	spool, err := d.o.Store.NewSpool()
	if err != nil {
		return c, err
	}
	defer func() { // unless handed on with the decision (a panic too)
		if c.Submission == nil || c.Submission.Spool != spool {
			_ = spool.Close()
		}
	}()
	sub, err := parser.CheckStream(ctx, def, dec.Files, parser.Context{Now: received, Agency: agency.Code,
		Prior: d.o.Store.AgencyPrior(ctx, def.ID, agency.Code), Ref: d.o.Ref, Limits: d.o.Limits}, spool.Add)
	if err != nil {
		return c, err
	}
	for _, f := range sub.Files {
		if f.Reader == "" {
			continue
		}
		d.metrics.WorkbookReader.WithLabelValues(f.Reader).Inc()
		if f.Reader != "stream" {
			d.log.Info("pipeline: workbook read by the fallback reader", "message", m.ID, "file_sha256", f.SHA256, "reader", f.Reader)
		}
	}
	dec.AsReceived(&sub)
	sub.Findings = append(dec.Findings, sub.Findings...)
	unread := unreadFindings(msg)
	if f := smimeFinding(sm); f != nil {
		unread = append(unread, *f)
	}
	sub.Findings = append(unread, sub.Findings...)
	switch {
	case m.Truncated:
		sub.Findings = append([]parser.Finding{{Code: "message-too-large", Severity: parser.SeverityError,
			Message: fmt.Sprintf("Your message was %s, over the %s this mailbox accepts, so its attachments were not read.", mib(m.Size), mib(d.o.MaxMessageBytes)),
			Fix:     "Send the workbook alone, or split the submission over several messages."}}, sub.Findings...)
	case len(files) == 0 && len(unread) == 0:
		sub.Findings = append([]parser.Finding{{Code: "no-spreadsheet", Severity: parser.SeverityError,
			Message: "No spreadsheet was attached to your message.",
			Fix:     fmt.Sprintf("Reply with the completed %q workbook (.xlsx) attached; the blank template is attached to this notice.", def.Title)}}, sub.Findings...)
	}
	if sub.Agency == "" {
		sub.Agency = agency.Code
	}
	due, period, _ := def.Due(received)
	if sub.Period != "" {
		period = sub.Period
	}
	late := def.Late(received, period)
	accepted := !sub.Deficient()
	receipt := fmt.Sprintf("%s-%d-%06d", receiptPrefix(def), received.Year(), m.ID)

	out := reply.Outcome{
		Call: def, ReplyID: d.newMessageID(), Receipt: receipt, Agency: agency.Code, AgencyName: agency.Name,
		Original:   reply.Original{MessageID: msg.MessageID, Subject: msg.Subject, From: msg.From, FromName: msg.FromName, References: msg.References, Date: msg.Date, Received: received},
		Submission: sub, Due: due, Late: late, Now: d.o.Now(),
	}
	if wait {
		wc, err := d.waitCompletion(out, m, msg, dec, received)
		wc.Message = m.ID
		return wc, err
	}
	var mail *reply.Mail
	if accepted {
		if out.Version, out.Changes, err = d.changes(ctx, def, agency.Code, period, &sub, spool); err != nil {
			return c, err
		}
		if out.Changes != nil && !out.Changes.Empty() {
			// The whole list, for when the mail names only part of it.
			if out.ChangeList, err = workbook.Changes(ctx, def, *out.Changes); err != nil {
				return c, err
			}
		}
		c.Status, c.Folder = store.StatusAccepted, d.o.Folders.Accepted
		mail, err = d.o.Reply.Acknowledgement(out)
		if err != nil {
			return c, err
		}
	} else {
		c.Status, c.Folder = store.StatusDeficient, d.o.Folders.Deficient
		if out.Annotated, err = d.annotatedCopies(ctx, def, plainOnly(files), sub.Findings, m.ID); err != nil {
			return c, err
		}
		if out.Template, err = blankTemplate(ctx, def, sub.Findings); err != nil {
			return c, err
		}
		mail, err = d.o.Reply.Deficiency(out)
		if err != nil {
			return c, err
		}
	}
	c.Submission = &store.NewSubmission{
		Receipt: receipt, Call: def.ID, Agency: agency.Code, Period: period, Sender: msg.From,
		Accepted: accepted, Late: late, ReceivedAt: received, Files: stored, Result: sub, Spool: spool,
	}
	c.Note = fmt.Sprintf("%s: %d records, %d findings", receipt, spool.Len(), len(sub.Findings))
	if err := d.encryptReply(ctx, def, mail, d.o.Now()); err != nil { // pii.go
		return c, err
	}
	return d.withReply(ctx, c, msg.From, mail)
}

// withReply adds mail to c as its reply, unless the per-sender rate limit
// is reached: a sender in a loop with us gets no more.
func (d *Daemon) withReply(ctx context.Context, c store.Completion, to string, mail *reply.Mail) (store.Completion, error) {
	n, err := d.o.Store.RepliesTo(ctx, to, d.o.Now().Add(-d.o.RateWindow))
	if err != nil {
		return c, err
	}
	if n >= d.o.RatePerSender {
		c.Note += "; reply suppressed: rate limit reached for this sender"
		d.metrics.RepliesSuppressed.Inc()
		return c, nil
	}
	c.Reply = &store.NewReply{MessageID: mail.MessageID, Kind: mail.Kind, From: mail.From, To: mail.To, Raw: mail.Raw}
	return c, nil
}

// changes gives the version an accepted submission becomes and, from the
// second version on, what it changed: the stored records of the kinds it
// sends and its own rows (read back from the spool) stream through a
// parser.Differ, none held here.
func (d *Daemon) changes(ctx context.Context, def *parser.Definition, agency, period string, sub *parser.Submission, spool *store.Spool) (int, *parser.Changes, error) {
	cur, err := d.o.Store.CurrentVersion(ctx, def.ID, agency, period)
	if err != nil || cur == 0 {
		return 1, nil, err
	}
	// Compare only the kinds this version sends: the others stay in force
	// from the version that sent them.
	diff := parser.NewDiffer(def)
	if err := d.o.Store.CurrentRecords(ctx, def.ID, agency, period, sub.Kinds(), func(r parser.Record) error {
		diff.Old(r)
		return nil
	}); err != nil {
		return 0, nil, err
	}
	if err := spool.Rows(ctx, func(r *parser.Row) error {
		diff.New(r)
		return nil
	}); err != nil {
		return 0, nil, err
	}
	changes := diff.Changes()
	return cur + 1, &changes, nil
}

// agencyOf returns the agency whose allowlist holds addr (an exact address
// before a domain entry), or nil.
func (d *Daemon) agencyOf(addr string) *Agency {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return nil
	}
	for i, a := range d.o.Agencies {
		for _, s := range a.Senders {
			if s == addr {
				return &d.o.Agencies[i]
			}
		}
	}
	for i, a := range d.o.Agencies {
		for _, s := range a.Senders {
			// "@dhs.gov" covers hq.dhs.gov too: an agency's domain is
			// its own all the way down, as relaxed DMARC alignment has it.
			if domain := addr[at+1:]; strings.HasPrefix(s, "@") && (s[1:] == domain || strings.HasSuffix(domain, "."+s[1:])) {
				return &d.o.Agencies[i]
			}
		}
	}
	return nil
}

func (d *Daemon) ownAddresses() []string {
	own := append([]string{d.o.From}, d.o.Own...)
	for _, def := range d.o.Calls.All() {
		own = append(own, def.Routing.Addresses...)
	}
	return own
}

func (d *Daemon) defaultCall() *parser.Definition {
	if d.o.DefaultCall != "" {
		return d.o.Calls.Get(d.o.DefaultCall)
	}
	if all := d.o.Calls.All(); len(all) == 1 {
		return all[0]
	}
	return nil
}

// newMessageID makes the Message-ID of a reply: random, on the bot's
// domain, chosen once and stored with the reply so every retry carries it.
func (d *Daemon) newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	domain := "localhost"
	if at := strings.LastIndexByte(d.o.From, '@'); at >= 0 {
		domain = d.o.From[at+1:]
	}
	return "intake." + hex.EncodeToString(b[:]) + "@" + domain
}

func receiptPrefix(def *parser.Definition) string {
	if def.ReceiptPrefix != "" {
		return def.ReceiptPrefix
	}
	return strings.ToUpper(def.ID)
}

// unreadFindings turns what the MIME limits kept from being read into
// findings: a spreadsheet over a size limit, or parts skipped unseen. Either
// makes the submission deficient, so a mail is never accepted without a
// workbook it carried.
func unreadFindings(msg *email.Message) []parser.Finding {
	var fs []parser.Finding
	for _, u := range msg.Unread {
		if !u.Spreadsheet() {
			continue
		}
		f := parser.Finding{File: u.Name, Code: "too-large", Severity: parser.SeverityError,
			Message: fmt.Sprintf("The attachment is over the %s this mailbox reads for one file, so it was not read.", mib(u.Limit)),
			Fix:     "Remove unused sheets, images and formatting, or split the rows over several workbooks sent in separate emails."}
		if u.Total {
			f.Message = "The attachments together are over the size this mailbox reads for one message, so this one was not read."
			f.Fix = "Send each workbook in an email of its own."
		}
		fs = append(fs, f)
	}
	if msg.Incomplete {
		fs = append(fs, parser.Finding{Code: "message-incomplete", Severity: parser.SeverityError,
			Message: "Your message has more parts, or nests them deeper, than this mailbox reads, so some of it was not read.",
			Fix:     "Send the workbooks (.xlsx) as plain attachments of a new email, not inside forwarded messages."})
	}
	return fs
}

func mib(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
