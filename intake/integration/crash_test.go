package integration_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// crashMail is what every crash scenario delivers before the first start:
// two valid submissions and a deficient one, from three senders, so every
// point of the flow is reached more than once and both folders are used.
type crashMail struct {
	subs     []submission
	accepted int // how many are valid
}

func newCrashMail(t *testing.T) crashMail {
	t.Helper()
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	bad := parsertest.GoodPositions()
	bad[0].Designation2021 = "Generl" // not an allowed value
	bad[2].PositionNumber = ""        // required
	deficient := parsertest.SESWorkbook(t, bad, nil)
	return crashMail{accepted: 2, subs: []submission{
		{from: "chco@dhs.gov", subject: "DHS SES designation review", messageID: "crash-1@dhs.gov", file: "DHS report.xlsx", data: good},
		{from: "deputy.chco@dhs.gov", subject: "SES report", messageID: "crash-2@dhs.gov", file: "report.xlsx", data: deficient},
		{from: "ses.office@dhs.gov", subject: "SES report, corrected", messageID: "crash-3@dhs.gov", file: "DHS report v2.xlsx", data: good},
	}}
}

// daemonProc is one `intake run` process.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startDaemon starts `intake run --config cfg`, its output appended to
// logFile. failpoint is INTAKE_FAILPOINT ("" for none).
func startDaemon(t *testing.T, bin, cfg, logFile, failpoint string) *daemonProc {
	t.Helper()
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(log, "---- intake run (INTAKE_FAILPOINT=%q)\n", failpoint)
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INTAKE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if failpoint != "" {
		cmd.Env = append(cmd.Env, "INTAKE_FAILPOINT="+failpoint)
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to end and returns its wait status.
func (p *daemonProc) wait(t *testing.T, timeout time.Duration, logFile string) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("intake run did not end within %s; log:\n%s", timeout, tail(logFile, 4000))
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("intake run: %v", p.err)
	}
	return p.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// crashConfig is the YAML configuration of the crash tests' daemon; extra
// lines are added at the top level.
func crashConfig(t *testing.T, dir string, box crashMailbox, smtpSrv *localmail.SMTPServer, extra ...string) string {
	t.Helper()
	host, port := splitHostPort(t, smtpSrv.Addr)
	addr, user, pass := box.login()
	return writeFile(t, dir, "intake.yaml", fmt.Sprintf(`store: %s
from: %s
from_name: OPM Data Call Intake
default_call: %s
poll_interval: 200ms
retry_min: 500ms
imap:
  addr: %s
  tls: none
  username: %s
  password: %s
  timeout: 10s
smtp:
  host: %s
  port: %d
  tls: none
  timeout: 10s
auth:
  trusted_authserv_id: %s
agencies:
  - code: HS
    name: Department of Homeland Security
    senders: ["@dhs.gov"]
log:
  level: debug
`, filepath.Join(dir, "intake.db"), botAddr, defaultCall, addr, user, pass, host, port, receivingID)+strings.Join(extra, "\n")+"\n")
}

// crashMailbox is the bot's mailbox a crash scenario runs on: the
// in-process server, or Dovecot.
type crashMailbox interface {
	// deliver puts a mail in the INBOX, as the MTA would.
	deliver(t *testing.T, raw []byte)
	// count returns the number of messages in a folder, -1 while the
	// folder does not exist.
	count(t *testing.T, folder string) int
	// login gives the daemon's IMAP address (plain), user and password.
	login() (addr, user, pass string)
}

// memMailbox is the INBOX of an in-process server of its own.
type memMailbox struct{ srv *localmail.IMAPServer }

func newMemMailbox(t *testing.T) memMailbox { return newMemMailboxWith(t, localmail.IMAPOptions{}) }

func newMemMailboxWith(t *testing.T, o localmail.IMAPOptions) memMailbox {
	t.Helper()
	srv, err := localmail.StartIMAP(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return memMailbox{srv}
}

func (m memMailbox) deliver(t *testing.T, raw []byte) {
	t.Helper()
	if _, err := m.srv.Deliver("INBOX", raw); err != nil {
		t.Fatal(err)
	}
}

// count leaves out of the INBOX what is marked \Deleted: without MOVE, a
// filed mail stays there, marked. Other folders count whole (a copy of a
// marked mail is marked too, and still a copy too many).
func (m memMailbox) count(t *testing.T, folder string) int {
	count := m.srv.Count
	if folder == "INBOX" {
		count = m.srv.CountLive
	}
	n, err := count(folder)
	if err != nil {
		return -1 // not created yet
	}
	return n
}

func (m memMailbox) login() (string, string, string) {
	return m.srv.Addr, m.srv.Username, m.srv.Password
}

// dovecotMailbox is one user's mailbox on Dovecot, which the test reads
// and delivers to over a session of its own.
type dovecotMailbox struct {
	dc   *dovecot
	user string
	c    *imapclient.Client
}

func newDovecotMailbox(t *testing.T, dc *dovecot, user string) *dovecotMailbox {
	t.Helper()
	return &dovecotMailbox{dc: dc, user: user, c: dc.login(t, user)}
}

func (m *dovecotMailbox) deliver(t *testing.T, raw []byte) {
	t.Helper()
	cmd := m.c.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %s: %v", m.user, err)
	}
}

func (m *dovecotMailbox) count(t *testing.T, folder string) int { return imapCount(m.c, folder) }

func (m *dovecotMailbox) login() (string, string, string) { return m.dc.imapAddr, m.user, mailPass }

// crashState is what a scenario can look at between the kill and the
// restart.
type crashState struct {
	store   *store.Store
	box     crashMailbox
	replies []localmail.Received
}

// Crash safety with the real binary: `intake run` kills itself with SIGKILL
// at a point of the flow (INTAKE_FAILPOINT), is restarted, and must end
// with every submission stored once, every mail filed, every sender
// answered, and no reply sent twice except the one interrupted between the
// SMTP server's acceptance and its being marked sent (which then carries
// the same Message-ID both times).
func TestCrash_restartAtEveryPoint(t *testing.T) {
	bin := intakeBinary(t)
	scenarios := []struct {
		failpoint string
		// atKill checks what the kill left behind (n is the hit that killed).
		atKill func(t *testing.T, s crashState)
	}{
		{"fetched", func(t *testing.T, s crashState) { wantMessages(t, s, 0, 0) }},
		{"fetched:2", func(t *testing.T, s crashState) { wantMessages(t, s, 1, 0) }},
		{"stored", func(t *testing.T, s crashState) { wantMessages(t, s, 1, 0) }},
		{"stored:2", func(t *testing.T, s crashState) { wantMessages(t, s, 2, 0) }},
		{"completed", func(t *testing.T, s crashState) { wantMessages(t, s, 3, 1) }},
		{"completed:2", func(t *testing.T, s crashState) { wantMessages(t, s, 3, 2) }},
		{"sent", func(t *testing.T, s crashState) { wantSent(t, s, 1) }},
		{"sent:2", func(t *testing.T, s crashState) { wantSent(t, s, 2) }},
		{"filing", func(t *testing.T, s crashState) {
			wantMessages(t, s, 3, 3)
			if n := s.box.count(t, "INBOX"); n != 3 {
				t.Errorf("killed before the first move, INBOX holds %d, want 3", n)
			}
		}},
		{"filing:2", func(t *testing.T, s crashState) {
			wantMessages(t, s, 3, 3)
			// One folder's move went through, the other's did not.
			if n := s.box.count(t, "INBOX"); n == 0 || n == 3 {
				t.Errorf("killed between the two folders' moves, INBOX holds %d", n)
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(strings.ReplaceAll(sc.failpoint, ":", "_"), func(t *testing.T) {
			t.Parallel()
			runCrashScenario(t, bin, newMemMailbox(t), sc.failpoint, sc.atKill)
		})
	}
}

// Killed after the server moved the mail and before the store recorded
// the move: on restart the move is repeated for mail no longer in the
// INBOX, which a server answers OK doing nothing (RFC 9051 6.4.9), the
// store records it, and nothing is processed, answered or filed again. On
// the in-process server, on one without MOVE (copy, then mark \Deleted:
// only what is not marked yet is copied again), and on Dovecot.
func TestCrash_restartAfterTheMove(t *testing.T) {
	bin := intakeBinary(t)
	scenarios := []struct {
		failpoint string
		atKill    func(t *testing.T, s crashState)
	}{
		{"filed", func(t *testing.T, s crashState) {
			wantMessages(t, s, 3, 3)
			// The first folder's mail (Accepted: UIDs 1 and 3) was moved.
			if in, acc := s.box.count(t, "INBOX"), s.box.count(t, "Accepted"); in != 1 || acc != 2 {
				t.Errorf("killed after the first move: INBOX holds %d, Accepted %d; want 1 and 2", in, acc)
			}
			wantUnfiled(t, s, 3)
		}},
		{"filed:2", func(t *testing.T, s crashState) {
			wantMessages(t, s, 3, 3)
			if n := s.box.count(t, "INBOX"); n != 0 {
				t.Errorf("killed after both moves: INBOX holds %d, want 0", n)
			}
			wantUnfiled(t, s, 1)
		}},
	}
	var users []string
	for _, sc := range scenarios {
		users = append(users, "crash-"+strings.ReplaceAll(sc.failpoint, ":", "-")+"@opm.gov")
	}
	dc := startDovecot(t, users)
	for i, sc := range scenarios {
		for _, server := range []string{"memory", "memory without MOVE", "Dovecot"} {
			t.Run(strings.ReplaceAll(sc.failpoint, ":", "_")+"/"+server, func(t *testing.T) {
				t.Parallel()
				var box crashMailbox
				switch server {
				case "memory":
					box = newMemMailbox(t)
				case "memory without MOVE":
					box = newMemMailboxWith(t, localmail.IMAPOptions{NoMove: true})
				default:
					box = newDovecotMailbox(t, dc, users[i])
				}
				runCrashScenario(t, bin, box, sc.failpoint, sc.atKill)
			})
		}
	}
}

func runCrashScenario(t *testing.T, bin string, box crashMailbox, failpoint string, atKill func(*testing.T, crashState)) {
	ctx := context.Background()
	dir := t.TempDir()
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	mails := newCrashMail(t)
	for _, s := range mails.subs {
		box.deliver(t, s.bytes(t))
	}
	cfg := crashConfig(t, dir, box, smtpSrv)
	logFile := filepath.Join(dir, "intake.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(logFile, 6000))
		}
	})

	// First run: killed at the failpoint.
	ws := startDaemon(t, bin, cfg, logFile, failpoint).wait(t, 60*time.Second, logFile)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("intake run with INTAKE_FAILPOINT=%s ended with %v, want killed by SIGKILL", failpoint, ws)
	}
	// The replies the SMTP server took that the store had not yet recorded
	// as sent when the kill came: the outbox runs beside the fetcher, so a
	// kill at any point may fall in that window. Only these may go out
	// again (byte for byte the same).
	inFlight := map[string]bool{}
	func() {
		st, err := store.Open(ctx, filepath.Join(dir, "intake.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		replies := smtpSrv.Messages()
		for _, r := range replies {
			id := parseMail(t, r.Data).MessageID
			if it, err := st.ReplyByMessageID(ctx, id); err != nil || it.Status != store.OutboxSent {
				inFlight[id] = true
			}
		}
		atKill(t, crashState{store: st, box: box, replies: replies})
	}()

	// Second run: no failpoint; it must finish the job.
	p := startDaemon(t, bin, cfg, logFile, "")
	st, err := store.Open(ctx, filepath.Join(dir, "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	senders := map[string]bool{}
	for _, s := range mails.subs {
		senders[s.from] = true
	}
	// A reply interrupted at "sent" is retried after the outbox's backoff
	// (30 s and up by default): allow for it.
	waitFor(t, 90*time.Second, "every mail filed and every reply sent", func() bool {
		select {
		case <-p.done:
			t.Fatalf("intake run ended early: %v", p.err)
		default:
		}
		msgs, outbox, err := st.Counts(ctx)
		if err != nil {
			return false
		}
		if msgs[store.StatusReceived] != 0 || outbox[store.OutboxQueued] != 0 || outbox[store.OutboxSent] != len(mails.subs) {
			return false
		}
		if box.count(t, "INBOX") != 0 || box.count(t, "Accepted") != mails.accepted ||
			box.count(t, "Deficient") != len(mails.subs)-mails.accepted || unfiled(t, st) != 0 {
			return false
		}
		answered := map[string]bool{}
		for _, r := range smtpSrv.Messages() {
			for _, to := range r.To {
				answered[to] = true
			}
		}
		for s := range senders {
			if !answered[s] {
				return false
			}
		}
		return true
	})

	// Graceful stop.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ws := p.wait(t, 30*time.Second, logFile); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("intake run after SIGTERM ended with %v, want exit status 0", ws)
	}

	// Each submission stored exactly once.
	subs, err := st.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs, wantIDs []string
	for _, s := range subs {
		gotIDs = append(gotIDs, s.MessageID)
	}
	for _, s := range mails.subs {
		wantIDs = append(wantIDs, s.messageID)
	}
	slices.Sort(gotIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("submissions stored for Message-IDs %v, want each of %v once", gotIDs, wantIDs)
	}
	states := map[string]int{}
	for _, s := range subs {
		states[s.State]++
	}
	if states["deficient"] != 1 || states["current"] != 1 || states["superseded"] != 1 {
		t.Errorf("submission states %v, want one current, one superseded, one deficient", states)
	}
	msgs, err := st.Messages(ctx, store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[string]int{}
	for _, m := range msgs {
		byStatus[m.Status]++
	}
	if len(msgs) != len(mails.subs) || byStatus[store.StatusAccepted] != 2 || byStatus[store.StatusDeficient] != 1 {
		t.Errorf("stored messages by status %v (%d in all), want 2 accepted and 1 deficient", byStatus, len(msgs))
	}
	// No kill of the deciding flow falls inside a decision, so each
	// message was processed exactly once, however often the daemon
	// started. The outbox sends a reply as soon as its mail is decided,
	// while workers decide the rest: a kill at "sent" may fall inside
	// another message's decision, which the restart then tries again
	// (and decides once: one submission per mail, checked above).
	maxAttempts := 1
	if strings.HasPrefix(failpoint, intake.PointSent) {
		maxAttempts = 2
	}
	for _, m := range msgs {
		if m.Attempts < 1 || m.Attempts > maxAttempts {
			t.Errorf("message %d (%s) was processed %d times, want once (at most %d with this kill)", m.ID, m.MessageID, m.Attempts, maxAttempts)
		}
	}
	// Every move recorded: nothing left for a later start to move again.
	wantUnfiled(t, crashState{store: st}, 0)

	// Every mail filed.
	for folder, want := range map[string]int{"INBOX": 0, "Accepted": 2, "Deficient": 1, "Quarantine": 0} {
		if n := box.count(t, folder); n != want {
			t.Errorf("%s holds %d messages, want %d", folder, n, want)
		}
	}

	// Every sender answered; one reply per submission; a reply seen twice
	// only where the kill fell between acceptance and marking it sent, and
	// then byte for byte the same (same Message-ID).
	replies := smtpSrv.Messages()
	byID := map[string][]localmail.Received{}
	for _, r := range replies {
		id := parseMail(t, r.Data).MessageID
		if id == "" {
			t.Errorf("reply to %v without a Message-ID", r.To)
		}
		byID[id] = append(byID[id], r)
	}
	if len(byID) != len(mails.subs) {
		t.Errorf("%d distinct replies, want one per submission (%d)", len(byID), len(mails.subs))
	}
	perSender := map[string]int{}
	dups := 0
	for id, rs := range byID {
		for _, r := range rs {
			for _, to := range r.To {
				perSender[to]++
			}
		}
		if len(rs) == 1 {
			continue
		}
		dups++
		if len(rs) > 2 || !inFlight[id] {
			t.Errorf("reply %s sent %d times (failpoint %s), not in flight at the kill", id, len(rs), failpoint)
		}
		if !bytes.Equal(rs[0].Data, rs[1].Data) {
			t.Errorf("reply %s sent twice with different bytes", id)
		}
	}
	if strings.HasPrefix(failpoint, intake.PointSent) && dups != 1 {
		t.Errorf("killed after the SMTP server took a reply: want exactly that reply sent again, got %d duplicated", dups)
	}
	for s := range senders {
		if perSender[s] == 0 {
			t.Errorf("%s was never answered", s)
		}
	}
}

// wantMessages checks, after the kill, how many messages were stored and
// how many of them were decided.
func wantMessages(t *testing.T, s crashState, stored, decided int) {
	t.Helper()
	msgs, err := s.store.Messages(context.Background(), store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Status != store.StatusReceived {
			n++
		}
	}
	if len(msgs) != stored || n != decided {
		t.Errorf("at the kill: %d messages stored, %d decided; want %d and %d", len(msgs), n, stored, decided)
	}
	if len(s.replies) != 0 && decided == 0 {
		t.Errorf("at the kill: %d replies sent before anything was decided", len(s.replies))
	}
}

// wantSent checks, after a kill at the nth "sent", that the SMTP server
// took n replies and the store marked only n-1 of them sent.
func wantSent(t *testing.T, s crashState, n int) {
	t.Helper()
	_, outbox, err := s.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.replies) != n || outbox[store.OutboxSent] != n-1 {
		t.Errorf("at the kill: SMTP server took %d replies, store marked %d sent; want %d and %d",
			len(s.replies), outbox[store.OutboxSent], n, n-1)
	}
}

// wantUnfiled checks how many of the INBOX's locations the store has not
// recorded as filed.
func wantUnfiled(t *testing.T, s crashState, n int) {
	t.Helper()
	if got := unfiled(t, s.store); got != n {
		t.Errorf("%d locations not recorded as filed, want %d", got, n)
	}
}

// unfiled returns the number of the INBOX's locations whose message is
// decided but whose move the store has not recorded.
func unfiled(t *testing.T, st *store.Store) int {
	t.Helper()
	ctx := context.Background()
	cur, ok, err := st.Cursor(ctx, "INBOX")
	if err != nil || !ok {
		t.Fatalf("no INBOX cursor: %v", err)
	}
	locs, err := st.Unfiled(ctx, "INBOX", cur.UIDValidity)
	if err != nil {
		t.Fatal(err)
	}
	return len(locs)
}
