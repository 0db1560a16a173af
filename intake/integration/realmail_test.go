package integration_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"intake/intake"
	"intake/parser"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/reply"
	"intake/store"
)

// The whole job against Debian's Dovecot and Postfix: agencies send through
// Postfix, which delivers over LMTP into the bot's Dovecot mailbox; the
// daemon fetches over IMAP (plain, then TLS with a private CA), files the
// mail on Dovecot and sends its replies through Postfix into the agency's
// Dovecot mailbox.
func TestRealServers(t *testing.T) {
	// Each variant has its own bot mailbox and agency mailbox on one Dovecot.
	variants := []realVariant{
		{"imap_plain", botAddr, "chco@dhs.gov", startInProcess("none")},
		{"imap_tls", "ses-review@opm.gov", "hcm.director@dhs.gov", startInProcess("tls")},
		{"imap_starttls", "ses-starttls@opm.gov", "ses.lead@dhs.gov", startInProcess("starttls")},
		{"binary_tls_ca_file", "datacall@opm.gov", "hr.office@dhs.gov", startBinary},
	}
	var users []string
	for _, v := range variants {
		users = append(users, v.bot, v.agency)
	}
	// The receiving Postfix authenticates senders with OpenDKIM and
	// OpenDMARC, configured as the README asks (incoming results naming
	// its id deleted); DHS signs its mail and publishes p=reject.
	key := newSigningKey(t, "dhs.gov")
	name, rec := key.record(t)
	ms := startMilters(t, milterOptions{DNS: map[string]string{name: rec, "_dmarc.dhs.gov": "v=DMARC1; p=reject"}, Strip: true})
	dc := startDovecot(t, users)
	pf := startPostfix(t, []string{"opm.gov", "dhs.gov"}, dc.lmtpPort, ms)

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) { runRealFlow(t, dc, pf, v, key) })
	}
}

// receivedHops is how many Received fields the test servers add to an
// agency's mail: Postfix's (under the milters' Authentication-Results),
// then Dovecot's LMTP.
const receivedHops = 2

// realVariant is one way of running the daemon against the real servers.
type realVariant struct {
	name   string
	bot    string // the mailbox the agency writes to and the daemon reads
	agency string
	// start runs the daemon until the test ends and returns its store.
	start func(t *testing.T, dc *dovecot, pf *postfix, bot string) *store.Store
}

// startInProcess runs intake.New + Run in the test process, reading the
// bot's mailbox over plain IMAP, implicit TLS (the imaps port) or STARTTLS
// (the imap port), trusting the test's CA.
func startInProcess(mode string) func(t *testing.T, dc *dovecot, pf *postfix, bot string) *store.Store {
	return func(t *testing.T, dc *dovecot, pf *postfix, bot string) *store.Store {
		d, st := newInProcess(t, dc, pf.smtpAddr, bot, mode, nil)
		runUntilCleanup(t, d)
		return st
	}
}

// newInProcess makes a daemon in the test process for the bot's mailbox on
// dc (see startInProcess), replying through the SMTP server at smtpAddr
// (plain, no sign-in), trusting the results of mail that came through the
// test's Postfix; modify, if not nil, changes its options first.
func newInProcess(t *testing.T, dc *dovecot, smtpAddr, bot, mode string, modify func(*intake.Options)) (*intake.Daemon, *store.Store) {
	ctx := context.Background()
	imapOpts := intake.IMAPOptions{Addr: dc.imapAddr, TLS: mode, Username: bot, Password: mailPass, Timeout: 10 * time.Second}
	if mode == "tls" {
		imapOpts.Addr = dc.imapsAddr
	}
	if mode != "none" {
		imapOpts.TLSConfig = &tls.Config{ServerName: "127.0.0.1", RootCAs: dc.roots, MinVersion: tls.VersionTLS12}
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	calls, err := parser.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := reply.NewBuilder(reply.Options{From: botAddr, FromName: "OPM Data Call Intake"})
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, smtpAddr)
	o := intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr, Own: []string{bot}, DefaultCall: defaultCall,
		Agencies:     []intake.Agency{{Code: "HS", Name: "Department of Homeland Security", Senders: []string{"@dhs.gov"}}},
		IMAP:         imapOpts,
		SMTP:         intake.SMTPOptions{Host: host, Port: port, TLS: "none", Timeout: 10 * time.Second},
		Auth:         email.AuthPolicy{TrustedAuthServID: receivingID, ReceivedHops: receivedHops},
		PollInterval: 500 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 100 * time.Millisecond },
		Logger:       slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if modify != nil {
		modify(&o)
	}
	d, err := intake.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d, st
}

// appendedMail changes newInProcess's options for mail the test puts into
// the bot's mailbox itself (submission.bytes) instead of sending it through
// Postfix: the receiving server's Received field is the only one.
func appendedMail(o *intake.Options) { o.Auth.ReceivedHops = 1 }

// startBinary runs `intake run` from a YAML configuration, as an operator
// would: IMAP over TLS with the CA in imap.ca_file, replies through Postfix.
// It must stop with status 0 on SIGTERM.
func startBinary(t *testing.T, dc *dovecot, pf *postfix, bot string) *store.Store {
	bin := intakeBinary(t)
	dir := t.TempDir()
	host, port := splitHostPort(t, pf.smtpAddr)
	cfg := writeFile(t, dir, "intake.yaml", fmt.Sprintf(`store: %s
from: %s
from_name: OPM Data Call Intake
own_addresses: [%s]
default_call: %s
poll_interval: 500ms
imap:
  addr: %s
  tls: tls
  ca_file: %s
  username: %s
  password_file: %s
smtp:
  host: %s
  port: %d
  tls: none
auth:
  trusted_authserv_id: %s
  received_hops: %d
agencies:
  - code: HS
    name: Department of Homeland Security
    senders: ["@dhs.gov"]
`, filepath.Join(dir, "intake.db"), botAddr, bot, defaultCall, dc.imapsAddr, dc.caFile, bot,
		writeFile(t, dir, "imap-password", mailPass+"\n"), host, port, receivingID, receivedHops))
	logFile := filepath.Join(dir, "intake.log")
	p := startDaemon(t, bin, cfg, logFile, "")
	st, err := store.Open(context.Background(), filepath.Join(dir, "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer st.Close()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
			return
		}
		if ws := p.wait(t, 30*time.Second, logFile); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("intake run after SIGTERM ended with %v, want exit status 0", ws)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(logFile, 6000))
		}
	})
	return st
}

func runRealFlow(t *testing.T, dc *dovecot, pf *postfix, v realVariant, key signingKey) {
	ctx := context.Background()
	bot, agency := v.bot, v.agency
	st := v.start(t, dc, pf, bot)

	// The agency sends two submissions through Postfix, while the daemon runs.
	bad := parsertest.GoodPositions()
	bad[0].Designation2021 = "Generl"
	good := submission{from: agency, to: bot, subject: "DHS SES designation review", messageID: "good-" + agency,
		file: "DHS report.xlsx", data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())}
	deficient := submission{from: agency, to: bot, subject: "SES report", messageID: "bad-" + agency,
		file: "report.xlsx", data: parsertest.SESWorkbook(t, bad, nil)}
	for _, s := range []submission{good, deficient} {
		if err := smtp.SendMail(pf.smtpAddr, nil, s.from, []string{s.to}, key.sign(t, s.raw(t))); err != nil {
			t.Fatalf("send to postfix: %v", err)
		}
	}

	// Both answers arrive in the agency's Dovecot mailbox.
	inbox := dc.login(t, agency)
	waitFor(t, 60*time.Second, "two replies in "+agency+"'s mailbox", func() bool { return imapCount(inbox, "INBOX") >= 2 })
	replies := imapFetchAll(t, inbox, "INBOX")
	if len(replies) != 2 {
		t.Fatalf("%d replies in the agency's mailbox, want 2", len(replies))
	}
	kinds := map[string]string{} // In-Reply-To -> kind
	for _, raw := range replies {
		m := parseMail(t, raw)
		if m.From != botAddr {
			t.Errorf("reply from %q, want %s", m.From, botAddr)
		}
		if !strings.HasPrefix(m.Subject, "Re: ") || !receiptRE.MatchString(m.Subject) {
			t.Errorf("reply subject %q: want Re: and a receipt", m.Subject)
		}
		if !strings.Contains(headerBlock(raw), "Auto-Submitted: auto-replied") {
			t.Errorf("reply %s is not marked Auto-Submitted: auto-replied", m.MessageID)
		}
		out, err := st.ReplyByMessageID(ctx, m.MessageID)
		if err != nil {
			t.Errorf("reply %s is not in the outbox: %v", m.MessageID, err)
			continue
		}
		kinds[m.InReplyTo] = out.Kind
		if out.Kind == "deficiency" && (len(m.Attachments) != 1 || !strings.HasSuffix(m.Attachments[0].Name, ".xlsx")) {
			t.Errorf("deficiency notice without the annotated workbook")
		}
	}
	if kinds[good.messageID] != "acknowledgement" || kinds[deficient.messageID] != "deficiency" {
		t.Errorf("replies by In-Reply-To %v: want an acknowledgement of %s and a deficiency notice for %s",
			kinds, good.messageID, deficient.messageID)
	}

	// The bot's mail was filed on Dovecot.
	box := dc.login(t, bot)
	waitFor(t, 30*time.Second, "the bot's mail filed", func() bool {
		return imapCount(box, "INBOX") == 0 && imapCount(box, "Accepted") == 1 && imapCount(box, "Deficient") == 1
	})
	subs, err := st.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, s := range subs {
		states[s.MessageID] = s.State
	}
	if len(subs) != 2 || states[good.messageID] != "current" || states[deficient.messageID] != "deficient" {
		t.Errorf("submissions by Message-ID %v", states)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

// headerBlock returns a message's header section with unfolded lines.
func headerBlock(raw []byte) string {
	head, _, _ := strings.Cut(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n")
	return strings.ReplaceAll(head, "\n ", " ")
}
