package integration_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser/parsertest"
	"intake/store"
)

// A mail that kills the whole daemon each time it is examined (SIGKILL at
// the decide point, the first thing done with it at every start, as it is
// the oldest mail pending) is tried max_attempts times, each try counted
// before it starts, and then quarantined at the next start without being
// tried again: it goes to the Quarantine folder unanswered, and the mail
// behind it, including mail that arrived while the daemon kept dying, is
// processed and answered, once.
func TestCrash_poisonMailIsQuarantined(t *testing.T) {
	const maxAttempts = 3
	bin := intakeBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	box := newMemMailbox(t)
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })

	mails := newCrashMail(t)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	poison := submission{from: "ses.director@dhs.gov", subject: "SES report", messageID: "poison-1@dhs.gov", file: "report.xlsx", data: good}
	late := submission{from: "hr.lead@dhs.gov", subject: "SES report", messageID: "late-1@dhs.gov", file: "report.xlsx", data: good}
	box.deliver(t, poison.bytes(t)) // first, so every start examines it first
	for _, s := range mails.subs {
		box.deliver(t, s.bytes(t))
	}
	others := append(append([]submission(nil), mails.subs...), late)

	cfg := crashConfig(t, dir, box, smtpSrv, fmt.Sprintf("max_attempts: %d", maxAttempts))
	logFile := filepath.Join(dir, "intake.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(logFile, 8000))
		}
	})
	var st *store.Store
	byMessageID := func() map[string]store.Message {
		t.Helper()
		msgs, err := st.Messages(ctx, store.MessageFilter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Message{}
		for _, m := range msgs {
			out[m.MessageID] = m
		}
		return out
	}

	// Every try of the poison kills the daemon: each start is armed to
	// die at its first decision, which is the poison's.
	for try := 1; try <= maxAttempts; try++ {
		ws := startDaemon(t, bin, cfg, logFile, intake.PointDecide).wait(t, 60*time.Second, logFile)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("start %d: intake run ended with %v, want killed examining the poison", try, ws)
		}
		if st == nil {
			if st, err = store.Open(ctx, filepath.Join(dir, "intake.db")); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
		}
		msgs := byMessageID()
		if p := msgs[poison.messageID]; p.Status != store.StatusReceived || p.Attempts != try {
			t.Fatalf("after try %d the poison is %s with %d attempts recorded, want received with %d", try, p.Status, p.Attempts, try)
		}
		for _, s := range others {
			if m, ok := msgs[s.messageID]; ok && (m.Status != store.StatusReceived || m.Attempts != 0) {
				t.Fatalf("after try %d, %s is %s with %d attempts: the kill was not the poison's", try, s.messageID, m.Status, m.Attempts)
			}
		}
		if n := len(smtpSrv.Messages()); n != 0 {
			t.Fatalf("after try %d: %d replies sent, want none yet", try, n)
		}
		if try == 2 {
			box.deliver(t, late.bytes(t)) // mail keeps arriving while the daemon keeps dying
		}
	}

	// The next start gives up on the poison without trying it. It runs
	// unarmed: a further try would then succeed, and the poison end up
	// accepted and answered instead of quarantined.
	p := startDaemon(t, bin, cfg, logFile, "")
	waitFor(t, 60*time.Second, "every mail decided, filed and answered", func() bool {
		select {
		case <-p.done:
			t.Fatalf("intake run ended early: %v", p.err)
		default:
		}
		msgs, outbox, err := st.Counts(ctx)
		if err != nil {
			return false
		}
		return msgs[store.StatusReceived] == 0 && outbox[store.OutboxQueued] == 0 && outbox[store.OutboxSent] >= len(others) &&
			box.count(t, "INBOX") == 0 && unfiled(t, st) == 0
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ws := p.wait(t, 30*time.Second, logFile); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("intake run after SIGTERM ended with %v, want exit status 0", ws)
	}

	msgs := byMessageID()
	pm := msgs[poison.messageID]
	if pm.Status != store.StatusQuarantined || pm.Folder != "Quarantine" || pm.Receipt != "" {
		t.Errorf("poison: status %s, folder %q, receipt %q; want quarantined in Quarantine without a receipt", pm.Status, pm.Folder, pm.Receipt)
	}
	if want := fmt.Sprintf("after %d attempts", maxAttempts); !strings.Contains(pm.LastError, want) {
		t.Errorf("poison's recorded reason %q does not say it gave up %s", pm.LastError, want)
	}
	for _, s := range others {
		m := msgs[s.messageID]
		if m.Status != store.StatusAccepted && m.Status != store.StatusDeficient || m.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want decided on its first", s.messageID, m.Status, m.Attempts)
		}
	}
	for folder, want := range map[string]int{"INBOX": 0, "Quarantine": 1, "Accepted": mails.accepted + 1, "Deficient": len(mails.subs) - mails.accepted} {
		if n := box.count(t, folder); n != want {
			t.Errorf("%s holds %d messages, want %d", folder, n, want)
		}
	}
	subs, err := st.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != len(others) {
		t.Errorf("%d submissions stored, want %d (none for the poison)", len(subs), len(others))
	}

	// One reply to each other sender, none to the poison's; none twice.
	perSender := map[string]int{}
	ids := map[string]bool{}
	for _, r := range smtpSrv.Messages() {
		for _, to := range r.To {
			perSender[to]++
		}
		id := parseMail(t, r.Data).MessageID
		if ids[id] {
			t.Errorf("reply %s sent twice", id)
		}
		ids[id] = true
	}
	if n := perSender[poison.from]; n != 0 {
		t.Errorf("the poison's sender got %d replies, want none", n)
	}
	for _, s := range others {
		if n := perSender[s.from]; n != 1 {
			t.Errorf("%s got %d replies, want 1", s.from, n)
		}
	}
}
