package integration_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// restart drops the users' connections, stops Dovecot and starts it again
// from the same configuration and mail directory, as an upgrade or a crash
// and restart would.
func (d *dovecot) restart(t *testing.T, users ...string) {
	t.Helper()
	// A stopped master leaves logged-in imap processes running: kick the
	// users first, so their connections really drop.
	for _, u := range users {
		if out, err := exec.Command("doveadm", "-c", d.conf, "kick", u).CombinedOutput(); err != nil {
			t.Fatalf("doveadm kick %s: %v\n%s", u, err, out)
		}
	}
	if out, err := exec.Command("doveadm", "-c", d.conf, "stop").CombinedOutput(); err != nil {
		t.Fatalf("doveadm stop: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "dovecot stopped", func() bool {
		c, err := net.Dial("tcp", d.imapAddr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	d.start(t)
}

// start starts the stopped Dovecot again, from the same configuration
// and mail directory, and waits until it listens.
func (d *dovecot) start(t *testing.T) {
	t.Helper()
	// Dovecot forks and keeps its stdout: a file, never a pipe.
	logPath := filepath.Join(d.dir, "dovecot.restart.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dovecot", "-c", d.conf)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Close()
	if err != nil {
		t.Fatalf("dovecot -c %s: %v\n%s", d.conf, err, tail(logPath, 3000))
	}
	waitFor(t, 20*time.Second, "dovecot listening again", func() bool {
		c, err := net.Dial("tcp", d.imapAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// The IMAP server goes away and comes back: the daemon reconnects with
// backoff, answers what arrived meanwhile, and answers nothing twice.
func TestDovecotRestarted(t *testing.T) {
	const bot = "restart-bot@opm.gov"
	dc := startDovecot(t, []string{bot})
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })

	ctx := context.Background()
	metrics := intake.NewMetrics(nil)
	d, st := newInProcess(t, dc, smtpSrv.Addr, bot, "none", func(o *intake.Options) {
		appendedMail(o)
		o.PollInterval = 300 * time.Millisecond
		o.Backoff = func(int) time.Duration { return 200 * time.Millisecond }
		o.Metrics = metrics
	})
	runUntilCleanup(t, d)

	deliver := func(id string) {
		c := dc.login(t, bot)
		defer c.Close()
		raw := submission{from: "chco@dhs.gov", to: bot, subject: "SES report " + id, messageID: id, file: "r.xlsx",
			data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}.bytes(t)
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: time.Now()})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(n int) {
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if _, err := smtpSrv.Wait(wctx, n); err != nil {
			t.Fatal(err)
		}
	}

	deliver("before@dhs.gov")
	wait(1)
	dc.restart(t, bot)
	deliver("after@dhs.gov")
	wait(2)
	waitFor(t, 30*time.Second, "both filed", func() bool {
		c := dc.login(t, bot)
		defer c.Close()
		return imapCount(c, "INBOX") == 0 && imapCount(c, "Accepted") == 2
	})
	if got := testutil.ToFloat64(metrics.IMAPReconnects); got < 1 {
		t.Errorf("reconnections %v: the restart was not noticed", got)
	}
	if n := len(smtpSrv.Messages()); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
	subs, err := st.Submissions(ctx, store.ListFilter{})
	if err != nil || len(subs) != 2 {
		t.Errorf("%d submissions (%v), want 2", len(subs), err)
	}
}

// runUntilCleanup runs the daemon until the test ends, then stops it and
// checks that it stopped cleanly.
func runUntilCleanup(t *testing.T, d *intake.Daemon) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
