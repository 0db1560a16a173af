package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
	"intake/workbook"
)

// ProcessPending processes every stored message not yet decided, oldest
// first. One bad message never blocks the rest: it is retried on the next
// round and quarantined after MaxAttempts.
func (d *Daemon) ProcessPending(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids, err := d.o.Store.Pending(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err := d.processOne(ctx, id); err != nil {
			// A store failure: the next round tries again.
			return n, err
		}
		n++
	}
	return n, nil
}

// Replay processes one message again: a quarantined message after a fix,
// or a rejected one after its sender was added to the allowlist. A message
// already answered with a receipt is refused. Its mailbox copy stays where
// it was filed.
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
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.processOne(ctx, id)
}

// processOne counts an attempt (committed first, so a message that kills
// the daemon is recognised on restart), decides the message and commits
// the decision. Errors returned are the store's; processing failures are
// recorded against the message.
func (d *Daemon) processOne(ctx context.Context, id int64) error {
	if d.o.DryRun {
		// Whatever path got here (the fetcher, pending mail, a replay),
		// a dry run's replies are held, never sent.
		ctx = store.HoldReplies(ctx, "dry run")
	}
	now := d.o.Now()
	attempts, err := d.o.Store.BeginAttempt(ctx, id, now)
	if err != nil {
		return err
	}
	m, err := d.o.Store.Message(ctx, id)
	if err != nil {
		return err
	}
	log := d.log.With("message", id)
	if attempts > d.o.MaxAttempts {
		reason := fmt.Sprintf("gave up after %d attempts: %s", attempts-1, m.LastError)
		log.Error("pipeline: quarantined", "reason", reason)
		d.metrics.Quarantined.Inc()
		return d.o.Store.FailAttempt(ctx, id, reason, d.o.Folders.Quarantine, now)
	}
	start := time.Now()
	c, err := d.decide(ctx, m)
	if err == nil {
		c.Message, c.Now = id, now
		_, err = d.o.Store.Complete(ctx, c)
		if err == nil {
			d.failpoint(PointCompleted, id)
			d.metrics.Processed.WithLabelValues(c.Status).Inc()
			d.metrics.ProcessSeconds.Observe(time.Since(start).Seconds())
			log.Info("pipeline: decided", "status", c.Status, "folder", c.Folder, "call", c.Call, "agency", c.Agency, "note", c.Note, "reply", c.Reply != nil)
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	quarantine := ""
	if attempts >= d.o.MaxAttempts {
		quarantine = d.o.Folders.Quarantine
		d.metrics.Quarantined.Inc()
	}
	d.metrics.Failures.Inc()
	log.Error("pipeline: attempt failed", "attempt", attempts, "err", err, "quarantined", quarantine != "")
	return d.o.Store.FailAttempt(ctx, id, err.Error(), quarantine, now)
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

	// A mail bringing the password of a workbook that waits for it.
	if pc, ok, err := d.passwordMail(ctx, m, msg, receivedAt(m)); err != nil {
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
	dec, wait, purge, err := d.encryptedInputs(ctx, m, agency, files)
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
	// Cross-kind rules may lean on what the agency already sent.
	prior, err := d.o.Store.AgencyRecords(ctx, def.ID, agency.Code)
	if err != nil {
		return c, err
	}
	sub := parser.Check(def, dec.Files, parser.Context{Now: received, Agency: agency.Code, Prior: parser.PriorRecords(prior), Ref: d.o.Ref, Limits: d.o.Limits})
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
		cur, err := d.o.Store.Current(ctx, def.ID, agency.Code, period)
		if err != nil {
			return c, err
		}
		out.Version = 1
		if cur != nil {
			// Compare only the kinds this version sends: the others stay
			// in force from the version that sent them.
			kinds := sub.Kinds()
			old := slices.DeleteFunc(slices.Clone(cur.Records), func(r parser.Record) bool { return !slices.Contains(kinds, r.Kind) })
			out.Version = cur.Version + 1
			changes := parser.Diff(def, old, sub.Records)
			out.Changes = &changes
			if !changes.Empty() {
				// The whole list, for when the mail names only part of it.
				if out.ChangeList, err = workbook.Changes(ctx, def, changes); err != nil {
					return c, err
				}
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
		Accepted: accepted, Late: late, ReceivedAt: received, Files: stored, Result: sub,
	}
	c.Note = fmt.Sprintf("%s: %d records, %d findings", receipt, len(sub.Records), len(sub.Findings))
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
