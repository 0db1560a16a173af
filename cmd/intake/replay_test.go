package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/wneessen/go-mail"

	"intake/intake/localmail"
	"intake/internal/testenv"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// `intake replay ID`: a quarantined mail is processed again and answered
// once (the daemon sends the reply it queued); a mail already answered with
// a receipt is refused, saying so; an unknown or malformed number is an
// error that names it, and the command fails.
func TestReplay(t *testing.T) {
	clearIntakeEnv(t) // the configuration alone decides; no failpoint kills this process
	ctx := context.Background()
	dir := t.TempDir()
	imapSrv, err := localmail.StartIMAP(localmail.IMAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imapSrv.Close() })
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })

	const sender, msgID = "chco@dhs.gov", "replay-1@dhs.gov"
	raw := agencyMail(t, sender, msgID, parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()))
	uid, err := imapSrv.Deliver("INBOX", raw)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "intake.db")
	smtpHost, smtpPort, err := net.SplitHostPort(smtpSrv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfg, fmt.Sprintf(`store: %s
from: allocation-management@opm.gov
default_call: ses-designation-review
poll_interval: 200ms
retry_min: 500ms
max_attempts: 3
imap: {addr: "%s", tls: none, username: %s, password: %s, timeout: 10s}
smtp: {host: %s, port: %s, tls: none, timeout: 10s}
auth: {trusted_authserv_id: `+testAuthServID+`}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}]
`, db, imapSrv.Addr, imapSrv.Username, imapSrv.Password, smtpHost, smtpPort))

	// What a mail that failed processing max_attempts times leaves behind:
	// stored and fetched, its attempts spent, quarantined.
	id := func() int64 {
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		uidValidity := selectUIDValidity(t, imapSrv)
		now := time.Now()
		sum := sha256.Sum256(raw)
		id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: uidValidity, UID: uint32(uid),
			DedupeKey: email.DedupeKey(raw), MessageID: msgID, SHA256: hex.EncodeToString(sum[:]), Raw: raw,
			Size: int64(len(raw)), InternalDate: now, ReceivedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetCursor(ctx, "INBOX", store.Cursor{UIDValidity: uidValidity, LastUID: uint32(uid)}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := st.BeginAttempt(ctx, id, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.FailAttempt(ctx, id, "pipeline: panic: a bug", "Quarantine", now); err != nil {
			t.Fatal(err)
		}
		return id
	}()
	// The daemon files it in Quarantine and answers nothing.
	runDaemonUntil(t, cfg, "the quarantined mail filed", func() bool { return mailCount(imapSrv, "Quarantine") == 1 })
	if n := len(smtpSrv.Messages()); n != 0 {
		t.Fatalf("%d replies sent for a quarantined mail, want none", n)
	}

	// Replayed, it is processed: accepted with a receipt, its reply queued.
	out, errOut, err := runCmd(t, "replay", strconv.FormatInt(id, 10), "--config", cfg)
	if err != nil {
		t.Fatalf("replay: %v\n%s\n%s", err, out, errOut)
	}
	receipt := regexp.MustCompile(`SES-\d{4}-\d{6}`).FindString(out)
	if !strings.Contains(out, fmt.Sprintf("message %d: accepted", id)) || receipt == "" {
		t.Fatalf("replay output does not report the message accepted with its receipt:\n%s", out)
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := st.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.StatusAccepted || m.Receipt != receipt {
		t.Errorf("after replay the message is %s with receipt %q, want accepted with %s", m.Status, m.Receipt, receipt)
	}
	if _, outbox, err := st.Counts(ctx); err != nil || outbox[store.OutboxQueued] != 1 || len(outbox) != 1 {
		t.Errorf("outbox after replay %v (%v), want one queued reply", outbox, err)
	}

	// The daemon sends that reply, once, to the sender, in the thread.
	runDaemonUntil(t, cfg, "the replayed mail's reply sent", func() bool {
		_, outbox, err := st.Counts(ctx)
		return err == nil && outbox[store.OutboxSent] == 1
	})
	replies := smtpSrv.Messages()
	if len(replies) != 1 {
		t.Fatalf("%d replies sent, want 1", len(replies))
	}
	r, err := email.Parse(replies[0].Data, email.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(replies[0].To) != 1 || replies[0].To[0] != sender || r.InReplyTo != msgID || !strings.Contains(r.Subject, receipt) {
		t.Errorf("reply to %v, In-Reply-To %q, subject %q; want to %s, in reply to %s, naming %s", replies[0].To, r.InReplyTo, r.Subject, sender, msgID, receipt)
	}
	// Its mailbox copy stays where it was filed, once.
	if q, in, acc := mailCount(imapSrv, "Quarantine"), mailCount(imapSrv, "INBOX"), mailCount(imapSrv, "Accepted"); q != 1 || in != 0 || acc > 0 {
		t.Errorf("after the replay: Quarantine %d, INBOX %d, Accepted %d; want the mail in Quarantine only", q, in, acc)
	}

	// Answered with a receipt: a second replay is refused, and queues nothing.
	out, _, err = runCmd(t, "replay", strconv.FormatInt(id, 10), "--config", cfg)
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "already answered with receipt "+receipt) {
		t.Errorf("replay of an answered mail: %v, want refused naming its receipt %s\n%s", err, receipt, out)
	}
	if _, outbox, err := st.Counts(ctx); err != nil || outbox[store.OutboxSent] != 1 || len(outbox) != 1 {
		t.Errorf("outbox after the refused replay %v (%v), want the one reply only", outbox, err)
	}

	// An unknown number, and no number at all.
	for arg, want := range map[string]string{"999": "no message 999", "abc": `"abc" is not a message number`} {
		_, _, err := runCmd(t, "replay", arg, "--config", cfg)
		if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("replay %s: %v, want an error saying %q", arg, err, want)
		}
	}
	if _, _, err := runCmd(t, "replay", "--config", cfg); !errors.Is(err, errUsage) {
		t.Errorf("replay without a number: %v, want the usage", err)
	}
}

// agencyMail is an agency's mail with a workbook attached.
func agencyMail(t *testing.T, from, messageID string, xlsx []byte) []byte {
	t.Helper()
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(from); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("allocation-management@opm.gov"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("SES designation review")
	msg.SetDate()
	msg.SetMessageIDWithValue(messageID)
	msg.SetBodyString(mail.TypeTextPlain, "Our report is attached.")
	if err := msg.AttachReader("report.xlsx", bytes.NewReader(xlsx),
		mail.WithFileContentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	// What the receiving server adds on top: its results, its Received.
	domain := from[strings.LastIndexByte(from, '@')+1:]
	trace := fmt.Sprintf("Authentication-Results: %s; dkim=pass header.d=%s; dmarc=pass header.from=%s\r\nReceived: from mail.%s by %s with ESMTPS id T1; %s\r\n",
		testAuthServID, domain, domain, domain, testAuthServID, time.Now().Format(time.RFC1123Z))
	return append([]byte(trace), buf.Bytes()...)
}

// testAuthServID is the receiving server the tests' configurations trust
// (auth.trusted_authserv_id); agencyMail carries its results.
const testAuthServID = "mx.test.opm.example"

// selectUIDValidity returns the INBOX's UIDVALIDITY, as a client sees it.
func selectUIDValidity(t *testing.T, srv *localmail.IMAPServer) uint32 {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(srv.Username, srv.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return sel.UIDValidity
}

// mailCount returns the number of messages in a folder, -1 while it does
// not exist.
func mailCount(srv *localmail.IMAPServer, folder string) int {
	n, err := srv.Count(folder)
	if err != nil {
		return -1
	}
	return n
}

// runDaemonUntil runs `intake run --config cfg` in this process until cond
// holds, then stops it as SIGTERM would and checks it stopped cleanly.
func runDaemonUntil(t *testing.T, cfg, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, &logs, &logs) }()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("intake run ended before %s: %v\n%s", what, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("intake run: %v\n%s", err, logs.String())
	}
}

// syncBuffer is a log sink several goroutines write to.
type syncBuffer = testenv.SyncBuffer
