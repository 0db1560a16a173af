package integration_test

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/localmail"
	"intake/internal/testenv"
	"intake/parser"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/reply"
	"intake/store"
)

// Dovecot is stopped for a while and started again. The daemon's backoff
// is the production one (30 s doubling to an hour), which alone would keep
// it away for a minute or more after a long outage; it probes the server
// every two seconds instead, and is back within seconds of the server. The
// delay measured is logged (the issue measured 62.6 s after a 30 s outage).
func TestDovecotOutage_backWithinSeconds(t *testing.T) {
	const bot = "outage-bot@opm.gov"
	dc := startDovecot(t, []string{bot})
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	calls, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rb, err := reply.NewBuilder(reply.Options{From: botAddr})
	if err != nil {
		t.Fatal(err)
	}
	var log testenv.SyncBuffer
	host, port := splitHostPort(t, smtpSrv.Addr)
	d, err := intake.New(intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr, Own: []string{bot}, DefaultCall: defaultCall,
		Agencies:     []intake.Agency{{Code: "HS", Name: "Department of Homeland Security", Senders: []string{"@dhs.gov"}}},
		IMAP:         intake.IMAPOptions{Addr: dc.imapAddr, TLS: "none", Username: bot, Password: mailPass, Timeout: 10 * time.Second},
		SMTP:         intake.SMTPOptions{Host: host, Port: port, TLS: "none", Timeout: 10 * time.Second},
		Auth:         email.AuthPolicy{TrustedAuthServID: receivingID},
		PollInterval: time.Minute,
		Backoff:      intake.ExponentialBackoff(30*time.Second, time.Hour),
		Logger:       slog.New(slog.NewTextHandler(io.MultiWriter(tlogWriter{t}, &log), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, d)
	waitFor(t, 20*time.Second, "the first session", func() bool { return strings.Count(log.String(), "imap: connected") == 1 })

	// Down: kick the session and stop the server; once the daemon has
	// noticed (and started to wait its 30 s), start the server again.
	dc.kick(t, bot)
	if out, err := exec.Command("doveadm", "-c", dc.conf, "stop").CombinedOutput(); err != nil {
		t.Fatalf("doveadm stop: %v\n%s", err, out)
	}
	down := time.Now()
	waitFor(t, 20*time.Second, "the daemon noticed", func() bool { return strings.Contains(log.String(), "session ended, reconnecting") })
	dc.start(t)
	back := time.Now()
	outage := back.Sub(down).Round(100 * time.Millisecond)
	waitFor(t, 60*time.Second, "the daemon connected again", func() bool { return strings.Count(log.String(), "imap: connected") >= 2 })
	delay := time.Since(back)
	t.Logf("after a %s outage the daemon was connected again %.1f s after Dovecot was back (backoff 30 s doubling; probe every 2 s)", outage, delay.Seconds())
	dc.appendMail(t, bot, submission{from: "chco@dhs.gov", to: bot, subject: "SES report", messageID: "after-outage@dhs.gov", file: "r.xlsx",
		data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}.bytes(t))
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := smtpSrv.Wait(wctx, 1); err != nil {
		t.Fatal(err)
	}
}
