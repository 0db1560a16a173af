package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// `intake backup FILE` in the middle of a flood of mail, beside the running
// daemon; then the restore the README describes (stop the daemon, put the
// backup in the store's place, move the mail filed since back to the
// INBOX, start again): the restored store passes the integrity check, and
// in the end every mail is one submission, none lost and none doubled.
func TestBackup_duringFloodThenRestore(t *testing.T) {
	clearIntakeEnv(t)
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
	db := filepath.Join(dir, "intake.db")
	smtpHost, smtpPort, _ := net.SplitHostPort(smtpSrv.Addr)
	cfg := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfg, fmt.Sprintf(`store: %s
from: allocation-management@opm.gov
default_call: ses-designation-review
poll_interval: 100ms
retry_min: 500ms
rate_per_sender: 1000
imap: {addr: "%s", tls: none, username: %s, password: %s, timeout: 10s}
smtp: {host: %s, port: %s, tls: none, timeout: 10s}
auth: {trusted_authserv_id: `+testAuthServID+`}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}]
`, db, imapSrv.Addr, imapSrv.Username, imapSrv.Password, smtpHost, smtpPort))

	xlsx := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	const half, total = 30, 60
	deliver := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := imapSrv.Deliver("INBOX", agencyMail(t, "chco@dhs.gov", fmt.Sprintf("flood-%03d@dhs.gov", i), xlsx)); err != nil {
				t.Fatal(err)
			}
		}
	}
	decided := func(path string) int {
		st, err := store.OpenReadOnly(context.Background(), path)
		if err != nil {
			return -1
		}
		defer st.Close()
		n, _, _ := st.Counts(context.Background())
		return n[store.StatusAccepted]
	}

	deliver(0, half)
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, &logs, &logs) }()
	waitUntil(t, "the first mails decided", &logs, func() bool { return decided(db) >= 5 })

	old := syscall.Umask(0)
	backup := filepath.Join(dir, "backup", "intake-backup.db")
	os.Mkdir(filepath.Dir(backup), 0o700)
	out, errOut, err := runCmd(t, "backup", backup, "--config", cfg)
	syscall.Umask(old)
	if err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, errOut)
	}
	deliver(half, total) // the flood goes on
	waitUntil(t, "every mail decided and filed", &logs, func() bool {
		return decided(db) == total && mailCount(imapSrv, "INBOX") == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600 (umask 0)", fi.Mode().Perm())
	}
	inBackup := decided(backup)
	if inBackup <= 0 || inBackup >= total {
		t.Fatalf("the backup holds %d decided mails; want some of the %d, not all", inBackup, total)
	}

	// Restore, as the README says.
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(p)
	}
	copyFile(t, backup, db)
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("restored store: %v", err)
	}
	st.Close()
	moveAll(t, imapSrv, "Accepted", "INBOX")

	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, &logs, &logs) }()
	waitUntil(t, "the restored store caught up", &logs, func() bool {
		return mailCount(imapSrv, "INBOX") == 0 && mailCount(imapSrv, "Accepted") == total && decided(db) == total
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}

	st, err = store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("restored store after the restart: %v", err)
	}
	msgs, err := st.Messages(context.Background(), store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]int{}
	for _, m := range msgs {
		if m.Receipt != "" {
			perID[strings.Trim(m.MessageID, "<>")]++
		}
	}
	for i := 0; i < total; i++ {
		if n := perID[fmt.Sprintf("flood-%03d@dhs.gov", i)]; n != 1 {
			t.Errorf("flood-%03d: %d submissions, want 1", i, n)
		}
	}
	if len(perID) != total {
		t.Errorf("%d mails with a submission, want %d", len(perID), total)
	}
}

func waitUntil(t *testing.T, what string, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// moveAll moves every message of one folder to another, as an operator's
// mail client would.
func moveAll(t *testing.T, srv *localmail.IMAPServer, from, to string) {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(srv.Username, srv.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(from, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if _, err := c.Move(all, to).Wait(); err != nil {
		t.Fatal(err)
	}
}
