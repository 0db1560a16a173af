package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

// badReport writes a position report of rows positions of agency code
// with excelize's stream writer: every row bad when allBad (a designation
// that is not allowed, as when a column is mapped wrong), else only one.
func badReport(t *testing.T, code string, rows int, allBad bool) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	header := make([]any, len(parsertest.PositionHeaders))
	for i, h := range parsertest.PositionHeaders {
		header[i] = h
	}
	if err := sw.SetRow("A1", header); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < rows; r++ {
		designation := "General"
		if allBad || r == rows/2 {
			designation = "Generl"
		}
		cell, _ := excelize.CoordinatesToCellName(1, r+2)
		if err := sw.SetRow(cell, []any{code, code + "01", fmt.Sprintf("%s-%06d", code, r), fmt.Sprintf("Deputy Assistant Secretary %d", r),
			fmt.Sprintf("Office of Programs, Division %d", r%97), designation, "N", "General", nil, "Not applicable", "Career",
			fmt.Sprintf("position %d of the %s report", r, code)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetName("Sheet1", parsertest.PositionSheet); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Against Dovecot and Postfix: two large bad mails of two agencies, both
// being decided (held at the decide point), do not delay a small mail of
// a third, which is answered into its Dovecot mailbox while they are
// still undecided; then they are answered too.
func TestRealServers_largeMailDoesNotDelaySmallMail(t *testing.T) {
	const (
		bot   = "deadline-day@opm.gov"
		dhs   = "chco@dhs.gov"
		tr    = "hr.director@treasury.gov"
		ed    = "hc@ed.gov"
		large = 64 << 10
	)
	dc := startDovecot(t, []string{bot, dhs, tr, ed})
	pf := startPostfix(t, []string{"opm.gov", "dhs.gov", "treasury.gov", "ed.gov"}, dc.lmtpPort)

	started := make(chan int64, 8)
	open := make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(open)
		}
	}
	d, st := newInProcess(t, dc, pf.smtpAddr, bot, "none", func(o *intake.Options) {
		o.Agencies = append(o.Agencies,
			intake.Agency{Code: "TR", Name: "Department of the Treasury", Senders: []string{"@treasury.gov"}},
			intake.Agency{Code: "ED", Name: "Department of Education", Senders: []string{"@ed.gov"}})
		o.Workers = 2
		o.LargeMessageBytes = large
		// This test is about who waits for whom, not about senders: the
		// servers are on loopback and sign nothing (senderauth_test.go
		// has the authentication through Postfix's milters).
		o.Auth = email.AuthPolicy{Mode: email.AuthNone}
		st := o.Store
		o.Failpoint = func(point string, id int64) {
			if point != intake.PointDecide {
				return
			}
			if m, err := st.Message(context.Background(), id); err == nil && len(m.Raw) >= large {
				started <- id
				<-open
			}
		}
	})
	runUntilCleanup(t, d)
	t.Cleanup(release) // runs first: the held decisions end before the stop

	send := func(s submission) {
		t.Helper()
		s.to = bot
		if err := smtp.SendMail(pf.smtpAddr, nil, s.from, []string{bot}, s.bytes(t)); err != nil {
			t.Fatalf("send to postfix: %v", err)
		}
	}
	send(submission{from: tr, subject: "SES report", messageID: "big-tr@treasury.gov", file: "treasury.xlsx", data: badReport(t, "TR", 4000, false)})
	send(submission{from: ed, subject: "SES report", messageID: "big-ed@ed.gov", file: "education.xlsx", data: badReport(t, "ED", 4000, false)})
	var held int64
	select {
	case held = <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("no large mail was decided within 60 s")
	}

	send(submission{from: dhs, subject: "DHS SES designation review", messageID: "small@dhs.gov", file: "DHS report.xlsx",
		data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())})
	dhsBox := dc.login(t, dhs)
	waitFor(t, 60*time.Second, "the small DHS mail answered into its mailbox while a large one is held", func() bool {
		return imapCount(dhsBox, "INBOX") >= 1
	})
	select {
	case id := <-started:
		t.Fatalf("message %d (large) started while message %d (large) was held: large mail took every worker", id, held)
	default:
	}
	trBox, edBox := dc.login(t, tr), dc.login(t, ed)
	if imapCount(trBox, "INBOX") > 0 || imapCount(edBox, "INBOX") > 0 {
		t.Fatal("a held large mail was answered")
	}

	release()
	waitFor(t, 120*time.Second, "both large mails answered", func() bool {
		return imapCount(trBox, "INBOX") >= 1 && imapCount(edBox, "INBOX") >= 1
	})
	for _, box := range []string{tr, ed} {
		c := dc.login(t, box)
		for _, raw := range imapFetchAll(t, c, "INBOX") {
			if out, err := st.ReplyByMessageID(context.Background(), parseMail(t, raw).MessageID); err != nil || out.Kind != "deficiency" {
				t.Errorf("%s's reply: %+v, %v; want a deficiency notice", box, out, err)
			}
		}
	}
}

// `intake run` stops within 5 s of SIGTERM while it is deciding a large
// all-bad workbook, with exit status 0, and the mail stays pending for the
// next start.
func TestSIGTERMDuringLongCheck(t *testing.T) {
	bin := intakeBinary(t)
	dir := t.TempDir()
	box := newMemMailbox(t)
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	box.deliver(t, submission{from: "chco@dhs.gov", subject: "SES report", messageID: "huge@dhs.gov", file: "report.xlsx",
		data: badReport(t, "HS", 100_000, true)}.bytes(t))
	cfg := crashConfig(t, dir, box, smtpSrv)
	logFile := filepath.Join(dir, "intake.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(logFile, 8000))
		}
	})
	p := startDaemon(t, bin, cfg, logFile, "")
	waitFor(t, 60*time.Second, "the daemon deciding the large mail", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "pipeline: deciding")
	})
	// Deciding it has begun: once the process has spent another second of
	// CPU time, it is inside the check (reading the mail and the store take
	// a fraction of that).
	base := cpuTime(t, p.cmd.Process.Pid)
	waitFor(t, 60*time.Second, "a second of CPU time spent deciding", func() bool {
		return cpuTime(t, p.cmd.Process.Pid)-base >= time.Second
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ws := p.wait(t, 60*time.Second, logFile)
	took := time.Since(start)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("intake run after SIGTERM ended with %v, want exit status 0", ws)
	}
	if took > 5*time.Second {
		t.Errorf("intake run took %s to stop after SIGTERM while deciding, want at most 5 s", took.Round(time.Millisecond))
	}
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))

	st, err := store.Open(context.Background(), filepath.Join(dir, "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, err := st.Messages(context.Background(), store.MessageFilter{})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages %v, %v; want the one mail", msgs, err)
	}
	if s := msgs[0].Status; s != store.StatusReceived && s != store.StatusDeficient {
		t.Errorf("the mail is %s after the stop, want still pending (or decided, had it finished first)", s)
	}
}

// cpuTime is the user and system CPU time process pid has used
// (/proc/PID/stat), 0 once it is gone.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields counted are those after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
