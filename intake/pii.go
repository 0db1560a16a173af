package intake

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/parser/sheet"
	"intake/reply"
	"intake/store"
)

// Personal data in transit (README, "Personal data in transit"): S/MIME
// signatures and encryption, and encrypted workbooks whose password comes
// from the configuration or in a second mail.

// openSMIME takes off the S/MIME layers of a stored message as of when it
// was received (email.OpenSMIME); the stored raw message stays as it came.
func (d *Daemon) openSMIME(raw []byte, received time.Time) ([]byte, email.SMIME) {
	keys := d.o.SMIME
	keys.Now = received
	return email.OpenSMIME(raw, keys)
}

// rememberSigner keeps the certificate of a verified signer of from, to
// encrypt replies holding personal data to.
func (d *Daemon) rememberSigner(ctx context.Context, s email.SMIME, from string, now time.Time) error {
	if !s.SignedBy(from) || s.Signer == nil {
		return nil
	}
	return d.o.Store.SaveSenderCert(ctx, from, s.Signer.Raw, s.Signer.NotAfter, now)
}

// encryptReply encrypts a reply about a call that holds personal data to
// its recipient's certificate, when one is known from the recipient's
// verified signed mail (and to the mailbox's own, for the sent copy). A
// reply to a recipient without a known certificate, or about another call,
// is returned as it is.
func (d *Daemon) encryptReply(ctx context.Context, def *parser.Definition, m *reply.Mail, now time.Time) error {
	if def == nil || !def.PII || len(m.To) != 1 {
		return nil
	}
	der, err := d.o.Store.SenderCert(ctx, m.To[0], now)
	if err != nil || der == nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("pii: stored certificate of %s: %w", m.To[0], err)
	}
	to := []*x509.Certificate{cert}
	if d.o.SMIME.Cert != nil {
		to = append(to, d.o.SMIME.Cert)
	}
	raw, err := email.EncryptSMIME(m.Raw, to)
	if err != nil {
		return err
	}
	m.Raw = raw
	return nil
}

// smimeFinding is the deficiency of mail encrypted so that the mailbox
// cannot read it: to another certificate, or with no key configured.
func smimeFinding(s email.SMIME) *parser.Finding {
	if !s.Encrypted || s.Decrypted {
		return nil
	}
	return &parser.Finding{Code: "smime-undecryptable", Severity: parser.SeverityError,
		Message: "Your message is encrypted (S/MIME), and not to this mailbox's certificate, so it could not be read.",
		Fix:     "Encrypt the message to the certificate of this mailbox as OPM publishes it, or send the workbook encrypted with a password and the password in a separate email."}
}

// maxPasswordLen bounds what is taken for a password from a mail's first
// line: longer text is a message, not a password.
const maxPasswordLen = 256

// passwordOf returns the password a password mail carries: the first
// non-empty line of its text, with a leading "Password:" taken off; "" when
// there is none or it is too long to be one.
func passwordOf(msg *email.Message) string {
	for _, line := range strings.Split(msg.Text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > 9 && strings.EqualFold(line[:9], "password:") {
			line = strings.TrimSpace(line[9:])
		}
		if len(line) > maxPasswordLen {
			return ""
		}
		return line
	}
	return ""
}

// pairedWait finds the workbook a password mail is for: among the open
// waits of its sender, the one whose receipt its subject or text names,
// else the newest one still inside its window when the mail was received.
// A mail carrying a spreadsheet, or no password line, is not a password
// mail.
func (d *Daemon) pairedWait(ctx context.Context, msg *email.Message, received time.Time) (store.PasswordWait, bool, error) {
	for _, a := range msg.Attachments {
		if a.Spreadsheet() {
			return store.PasswordWait{}, false, nil
		}
	}
	if passwordOf(msg) == "" {
		return store.PasswordWait{}, false, nil
	}
	ws, err := d.o.Store.OpenWaits(ctx, msg.From)
	if err != nil || len(ws) == 0 {
		return store.PasswordWait{}, false, err
	}
	for _, w := range ws {
		if strings.Contains(msg.Subject, w.Receipt) || strings.Contains(msg.Text, w.Receipt) {
			return w, true, nil
		}
	}
	// Naming no receipt, only a short mail is taken for a password mail
	// (the password, a greeting, a name): a question sent meanwhile is not.
	lines := 0
	for _, l := range strings.Split(msg.Text, "\n") {
		if strings.TrimSpace(l) != "" {
			lines++
		}
	}
	if lines > 3 {
		return store.PasswordWait{}, false, nil
	}
	for i := len(ws) - 1; i >= 0; i-- {
		if !received.After(ws[i].Until) {
			return ws[i], true, nil
		}
	}
	return store.PasswordWait{}, false, nil
}

// labelledPassword reports whether a mail that no waiting workbook claims
// is a workbook's password sent ahead of the workbook: no spreadsheet, a
// first line "Password: ..." that asks nothing, and at most three lines in
// all (the password, a greeting, a name). Without a workbook waiting, the label is
// what tells a password from a short question.
func labelledPassword(msg *email.Message) bool {
	for _, a := range msg.Attachments {
		if a.Spreadsheet() {
			return false
		}
	}
	var lines []string
	for _, l := range strings.Split(msg.Text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return len(lines) > 0 && len(lines) <= 3 && len(lines[0]) > 9 &&
		strings.EqualFold(lines[0][:9], "password:") && passwordOf(msg) != "" &&
		!strings.HasSuffix(lines[0], "?") // "Password: do you need one?" is a question
}

// workbookPassword returns the password to open message m's encrypted
// workbooks with, the password mail it comes from (0 for none: its raw
// bytes are purged once m is decided), and whether m may still wait for
// one: the agency's configured password; else the one its password mail
// brought; else one its sender sent ahead, within the window before m
// came; else none, and m may wait if it never has.
func (d *Daemon) workbookPassword(ctx context.Context, m *store.Message, sender string, agency *Agency) (password string, from int64, mayWait bool, err error) {
	if agency.WorkbookPassword != "" {
		return agency.WorkbookPassword, 0, false, nil
	}
	w, err := d.o.Store.WaitOf(ctx, m.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Sent ahead: tried, and if it does not open the workbook, the
		// workbook may still wait for another.
		from, err = d.o.Store.EarlierPasswordMail(ctx, sender, m.ID, receivedAt(m))
		if err != nil || from == 0 {
			return "", 0, true, err
		}
		mayWait = true
	case err != nil:
		return "", 0, false, err
	case w.PasswordMessage == 0:
		return "", 0, false, nil
	default:
		from = w.PasswordMessage
	}
	pm, err := d.o.Store.Message(ctx, from)
	if err != nil {
		return "", 0, false, err
	}
	raw, _ := d.openSMIME(pm.Raw, pm.ReceivedAt)
	msg, err := email.Parse(raw, d.o.EmailLimits)
	if err != nil {
		return "", from, mayWait, nil
	}
	return passwordOf(msg), from, mayWait, nil
}

// expireWaits ends the waits whose window closed: their messages are
// pending again, and are decided without a password (a notice says none
// came).
func (d *Daemon) expireWaits(ctx context.Context, now time.Time) error {
	ws, err := d.o.Store.ExpiredWaits(ctx, now)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := d.o.Store.ResolveWait(ctx, w.Message, 0, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d.log.Info("pii: no password came in time", "message", w.Message, "receipt", w.Receipt)
	}
	return nil
}

// expirePasswordMails purges the passwords sent ahead of a workbook that
// never came within the window.
func (d *Daemon) expirePasswordMails(ctx context.Context, now time.Time) error {
	ids, err := d.o.Store.ExpiredPasswordMails(ctx, now)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.o.Store.PurgeRawNow(ctx, id, "a workbook password sent ahead of its workbook: no encrypted workbook came within the window; purged unused", now); err != nil {
			return err
		}
		d.log.Info("pii: a password sent ahead was not used in time: purged", "message", id)
	}
	return nil
}

// passwordMail decides a mail that brings the password of a workbook
// waiting for it (pairedWait): the wait is resolved with this mail, so the
// workbook is decided next with the password read from this mail's raw
// bytes, which go with that decision (Completion.PurgeRaw). The mail itself
// is ignored (never answered) and filed with the automatic mail. A
// password sent ahead of its workbook (labelledPassword, no workbook
// waiting) is ignored and filed the same way, and kept for the sender's
// next encrypted workbook within the window (workbookPassword). handled
// is false for any other mail. A mail seen again after a crash, whose
// wait it already resolved, is recognised as well.
func (d *Daemon) passwordMail(ctx context.Context, m *store.Message, msg *email.Message, agency string, received time.Time) (c store.Completion, handled bool, err error) {
	w, err := d.o.Store.WaitByPasswordMessage(ctx, m.ID)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		var ok bool
		if w, ok, err = d.pairedWait(ctx, msg, received); err != nil {
			return c, false, err
		}
		if !ok {
			if !labelledPassword(msg) {
				return c, false, nil
			}
			// Sent ahead of its workbook: kept for it, unanswered.
			until := received.Add(d.o.PasswordWindow)
			c.From, c.Agency = msg.From, agency
			c.Status, c.Folder = store.StatusIgnored, d.o.Folders.Ignored
			c.PasswordMail = &store.PasswordMail{Agency: agency, Sender: msg.From, Until: until}
			c.Note = fmt.Sprintf("a workbook password sent ahead of its workbook: kept for the sender's next encrypted workbook until %s UTC, then purged; never shown or kept once used",
				until.UTC().Format(time.DateTime))
			return c, true, nil
		}
		if err := d.o.Store.ResolveWait(ctx, w.Message, m.ID, d.o.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return c, false, err
		}
		// The workbook is decided once this mail's decision is committed,
		// without waiting for the next round of the mailbox.
		select {
		case d.paired <- struct{}{}:
		default:
		}
	default:
		return c, false, err
	}
	c.From, c.Agency = msg.From, w.Agency
	c.Status, c.Folder = store.StatusIgnored, d.o.Folders.Ignored
	c.Note = fmt.Sprintf("the password of %s (message %d): used to open its workbook, never kept; this mail's raw bytes are purged once it is decided", w.Receipt, w.Message)
	return c, true, nil
}

// encryptedInputs opens the encrypted workbooks among files with the
// password m may use (workbookPassword). wait is true when a workbook
// needs a password that has not come and m may wait for one; purge names
// the password mail whose raw bytes go with m's decision.
func (d *Daemon) encryptedInputs(ctx context.Context, m *store.Message, sender string, agency *Agency, files []parser.Input) (dec parser.Decrypted, wait bool, purge []int64, err error) {
	password, from, mayWait, err := d.workbookPassword(ctx, m, sender, agency)
	if err != nil {
		return dec, false, nil, err
	}
	dec = parser.DecryptInputs(files, password, d.o.Limits)
	if dec.Encrypted == 0 {
		return dec, false, nil, nil // a password sent ahead stays for an encrypted one
	}
	if from != 0 {
		purge = []int64{from}
	}
	return dec, dec.NeedPassword && mayWait, purge, nil
}

// waitCompletion is the decision to wait for the password of m's encrypted
// workbooks: the acknowledgement that gives the receipt and says so.
func (d *Daemon) waitCompletion(out reply.Outcome, m *store.Message, msg *email.Message, dec parser.Decrypted, received time.Time) (store.Completion, error) {
	until := received.Add(d.o.PasswordWindow)
	if now := d.o.Now(); until.Before(now.Add(d.o.PasswordWindow / 2)) {
		// Mail read long after it arrived (an outage) still gets time.
		until = now.Add(d.o.PasswordWindow / 2)
	}
	var names []string
	for _, f := range dec.Findings {
		if f.Code == parser.CodePasswordMissing || f.Code == parser.CodePasswordWrong {
			names = append(names, f.File)
		}
	}
	mail, err := d.o.Reply.Waiting(reply.WaitingInput{Outcome: out, Files: names, Until: until})
	if err != nil {
		return store.Completion{}, err
	}
	return store.Completion{
		Status: store.StatusReceived, From: msg.From, Agency: out.Agency, Call: out.Call.ID,
		Note:  "waiting for the password of its workbook",
		Wait:  &store.PasswordWait{Message: m.ID, Agency: out.Agency, Sender: msg.From, Receipt: out.Receipt, Until: until},
		Reply: &store.NewReply{MessageID: mail.MessageID, Kind: mail.Kind, From: mail.From, To: mail.To, Raw: mail.Raw},
	}, nil
}

// RunWaits ends the password waits whose window closed, every poll
// interval until ctx ends, and has their mail decided (a notice says no
// password came); and has a workbook decided as soon as its password
// mail was (passwordMail wakes it).
func (d *Daemon) RunWaits(ctx context.Context) {
	t := time.NewTicker(d.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.paired:
		case <-t.C:
			if err := d.expirePasswordMails(ctx, d.o.Now()); err != nil {
				d.log.Error("pii: expire password mails", "err", err)
			}
			ws, err := d.o.Store.ExpiredWaits(ctx, d.o.Now())
			if err != nil || len(ws) == 0 {
				continue
			}
			if err := d.expireWaits(ctx, d.o.Now()); err != nil {
				d.log.Error("pii: expire waits", "err", err)
				continue
			}
		}
		if _, err := d.ProcessPending(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("pii: process pending", "err", err)
		}
		d.kickOutbox()
	}
}

// plainOnly leaves out encrypted workbooks: an annotated copy of one would
// be mailed back unencrypted.
func plainOnly(files []parser.Input) []parser.Input {
	var out []parser.Input
	for _, f := range files {
		if !sheet.Encrypted(f.Data) {
			out = append(out, f)
		}
	}
	return out
}
