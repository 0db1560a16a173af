package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// Issue 14, against the daemon as run: the store is made in a directory
// that did not exist (the lock was taken before the directory was made:
// ENOENT), its files are the daemon's user's only, an agency whose display
// name holds an encoded LF, CR or NUL is answered (the reply failed to
// build), and the receipt shows when the server received the mail, not the
// Date the sender wrote. Then the staff commands read the store read-only,
// print no terminal control sequence, and write exports 0600.
func TestRun_privateStoreAnswersEveryNameAndShowsServerTime(t *testing.T) {
	clearIntakeEnv(t)
	old := syscall.Umask(0) // the modes must come from the code
	t.Cleanup(func() { syscall.Umask(old) })
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

	arrived := time.Date(2025, 3, 14, 15, 4, 0, 0, time.UTC)
	fromLine := regexp.MustCompile(`(?m)^From: .*\r\n`)
	dateLine := regexp.MustCompile(`(?m)^Date: .*\r\n`)
	names := []string{"=?utf-8?q?Evil=0Aname?=", "=?utf-8?q?Evil=0D=0ABcc=3A_x=40evil.test?=", "=?utf-8?b?RXZpbABuYW1l?="}
	for i, name := range names {
		raw := agencyMail(t, "chco@dhs.gov", fmt.Sprintf("name-%d@dhs.gov", i),
			parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()))
		raw = fromLine.ReplaceAll(raw, []byte("From: "+name+" <chco@dhs.gov>\r\n"))
		raw = dateLine.ReplaceAll(raw, []byte("Date: Mon, 03 Mar 2025 09:00:00 -0500\r\n"))
		if _, err := imapSrv.DeliverAt("INBOX", raw, arrived.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "var", "lib", "intake")
	db := filepath.Join(state, "intake.db")
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
imap: {addr: "%s", tls: none, username: %s, password: %s, timeout: 10s}
smtp: {host: %s, port: %s, tls: none, timeout: 10s}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}]
auth: {mode: none}
`, db, imapSrv.Addr, imapSrv.Username, imapSrv.Password, smtpHost, smtpPort))
	runDaemonUntil(t, cfg, "every agency mail answered", func() bool { return len(smtpSrv.Messages()) >= len(names) })

	for i, m := range smtpSrv.Messages() {
		text := string(m.Data)
		if !strings.Contains(text, "SES-2025-") || strings.Contains(text, "NOT accepted") {
			t.Errorf("reply %d is not an acknowledgement:\n%.600s", i, text)
		}
		if !regexp.MustCompile(`Received:\s+Friday, 14 March 2025 15:0[0-9] UTC`).MatchString(text) {
			t.Errorf("reply %d: Received is not the server's time:\n%.1500s", i, text)
		}
		if strings.Contains(text, "3 March 2025") || regexp.MustCompile(`(?mi)^Bcc:`).MatchString(text) {
			t.Errorf("reply %d shows the sender's Date or a forged header:\n%.1500s", i, text)
		}
	}
	if n, _ := imapSrv.Count("Quarantine"); n != 0 {
		t.Errorf("%d mails quarantined, want none", n)
	}
	for _, d := range []string{state, filepath.Dir(state), filepath.Dir(filepath.Dir(state))} {
		if m := fileMode(t, d); m != 0o700 {
			t.Errorf("directory %s: mode %o, want 700", d, m)
		}
	}
	for _, p := range []string{db, db + ".lock"} {
		if m := fileMode(t, p); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), m)
		}
	}

	// A note carrying terminal control sequences, as a bounce diagnostic
	// or a header may.
	seedNote(t, db, "bounce: \x1b]0;owned\x07\x1b[2J cleared\nID\tforged row")

	// An export is the user's alone (records may hold PII), even over a
	// file that existed with a wider mode.
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(outDir, 0o777)
	xlsx := filepath.Join(outDir, "x.xlsx")
	writeTestFile(t, xlsx, "old")
	os.Chmod(xlsx, 0o644)
	if out, _, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "--format", "xlsx", "-o", xlsx); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if m := fileMode(t, xlsx); m != 0o600 {
		t.Errorf("export -o: mode %o, want 600", m)
	}

	// Read-only from here: the staff commands must neither need to write
	// nor migrate (issue 14: they failed on a read-only store).
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Chmod(p, 0o444); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Dir(state), filepath.Dir(filepath.Dir(state))} {
		os.Chmod(d, 0o755)
	}
	os.Chmod(state, 0o555)
	before := fileSHA(t, db)
	for _, args := range [][]string{
		{"list", "--store", db},
		{"list", "--store", db, "--messages"},
		{"status", "--store", db, "--call", "ses-designation-review"},
		{"show", "--store", db, "SES-2025-000001"},
	} {
		out, err := runReadOnly(t, dir, args...)
		if err != nil {
			t.Errorf("%s on a read-only store: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		if bytes.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s printed a terminal control character:\n%q", args[0], out)
		}
		if args[0] == "list" && len(args) == 4 && (!bytes.Contains(out, []byte(`\u001b]0;owned\u0007`)) || bytes.Contains(out, []byte("\nID\t"))) {
			t.Errorf("list --messages: the note is not shown escaped on one line:\n%s", out)
		}
	}
	// Export is the one staff command that writes: the audit log must
	// record it before any record leaves, so a read-only store refuses it.
	if out, err := runReadOnly(t, dir, "export", "--store", db, "--call", "ses-designation-review"); err == nil || !bytes.Contains(out, []byte("audit log")) {
		t.Errorf("export on a read-only store: err %v, want a refusal naming the audit log\n%s", err, out)
	}
	if fileSHA(t, db) != before {
		t.Error("a read-only command changed the store")
	}
}

func fileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// seedNote stores a rejected mail whose note is note.
func seedNote(t *testing.T, db, note string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw := []byte("From: x@evil.test\r\nMessage-ID: <note@evil.test>\r\n\r\nhi\r\n")
	id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 999, MessageID: "<note@evil.test>",
		SHA256: "note", DedupeKey: "note", Raw: raw, Size: int64(len(raw)), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Complete(ctx, store.Completion{Message: id, Status: store.StatusRejected, Folder: "Quarantine",
		From: "x@evil.test", Note: note, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// runReadOnly runs an intake command as a user who may only read the
// store: this user when it is not root (the files are 0444), else (root
// writes any file) this test binary again as the unprivileged user nobody.
func runReadOnly(t *testing.T, dir string, args ...string) ([]byte, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		out, errOut, err := runCmd(t, args...)
		return []byte(out + errOut), err
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "intake.test")
	if _, err := os.Stat(bin); err != nil {
		data, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperCommand$")
	cmd.Dir = filepath.Join(dir, "out") // no intake.yaml there: --store alone decides
	cmd.Env = append(os.Environ(), "INTAKE_HELPER_ARGS="+strings.Join(args, "\x1f"), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return out, err
}

// TestHelperCommand is not a test: runReadOnly runs an intake command
// through it in a child process (INTAKE_HELPER_ARGS), as another user.
func TestHelperCommand(t *testing.T) {
	args := os.Getenv("INTAKE_HELPER_ARGS")
	if args == "" {
		return
	}
	err := run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
