package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// Issue 14, item 2: a configuration without an auth section does not let
// unauthenticated mail in (the daemon verifies DKIM itself, and the mail is
// unsigned: the receiving server's results are not trusted when no
// authserv-id is configured); running without sender authentication takes
// auth.mode none, which `intake run` refuses unless both mail servers are
// on loopback, and warns about when it starts.
func TestRun_senderAuthentication(t *testing.T) {
	clearIntakeEnv(t)
	ctx := context.Background()
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
	smtpHost, smtpPort, err := net.SplitHostPort(smtpSrv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := func(name, imapAddr, auth string) string {
		p := filepath.Join(dir, name+".yaml")
		writeTestFile(t, p, fmt.Sprintf(`store: %s
from: allocation-management@opm.gov
default_call: ses-designation-review
poll_interval: 200ms
imap: {addr: "%s", tls: none, username: %s, password: %s, timeout: 10s}
smtp: {host: %s, port: %s, tls: none, timeout: 10s}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}]
%s`, filepath.Join(dir, name+".db"), imapAddr, imapSrv.Username, imapSrv.Password, smtpHost, smtpPort, auth))
		return p
	}

	// No auth section: the allowlisted but unsigned mail is quarantined,
	// unanswered.
	if _, err := imapSrv.Deliver("INBOX", agencyMail(t, "chco@dhs.gov", "unsigned@dhs.gov", parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil))); err != nil {
		t.Fatal(err)
	}
	runDaemonUntil(t, config("noauth", imapSrv.Addr, ""), "the unsigned mail quarantined", func() bool { return mailCount(imapSrv, "Quarantine") == 1 })
	st, err := store.Open(ctx, filepath.Join(dir, "noauth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.Messages(ctx, store.MessageFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Status != store.StatusRejected || !strings.Contains(ms[0].Note, "no valid DKIM signature") {
		t.Fatalf("messages %+v, want the unsigned one rejected for want of a DKIM signature", ms)
	}
	if n := len(smtpSrv.Messages()); n != 0 {
		t.Errorf("%d replies to unauthenticated mail", n)
	}

	// auth.mode none with a mailbox that is not on loopback: refused.
	_, _, err = runCmd(t, "run", "--config", config("far", "imap.opm.example:993", "auth: {mode: none}\n"))
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("auth.mode none against imap.opm.example: %v, want a refusal naming loopback", err)
	}

	// On loopback it runs, and says at start that senders are believed.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"run", "--config", config("none", imapSrv.Addr, "auth: {mode: none}\n")}, &logs, &logs)
	}()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs.String(), "SENDER AUTHENTICATION IS OFF") {
		select {
		case err := <-done:
			t.Fatalf("intake run ended: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning at start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("intake run: %v", err)
	}
}
