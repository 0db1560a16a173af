package intake_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/parser/parsertest"
)

// newHarnessWith is newHarness against an IMAP server started with lo.
func newHarnessWith(t *testing.T, lo localmail.IMAPOptions, ho harnessOptions) *harness {
	t.Helper()
	srv, err := localmail.StartIMAP(lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	modify := ho.Modify
	ho.Modify = func(o *intake.Options) {
		o.IMAP.Addr, o.IMAP.Username, o.IMAP.Password = srv.Addr, srv.Username, srv.Password
		if modify != nil {
			modify(o)
		}
	}
	h := newHarness(t, ho)
	h.imap = srv
	return h
}

// waitFirstRound waits until the daemon has looked at the mailbox once.
func (h *harness) waitFirstRound() {
	h.t.Helper()
	waitFor(h.t, "the first round", func() bool {
		_, ok, err := h.store.Cursor(context.Background(), "INBOX")
		return err == nil && ok
	})
}

// The password goes by AUTHENTICATE PLAIN where the server offers it (here
// a server that refuses LOGIN), by LOGIN where it does not, and not at all
// where the server offers neither.
func TestIMAPLogin_password(t *testing.T) {
	for _, c := range []struct {
		name string
		srv  localmail.IMAPOptions
		want string // the mechanism used, "" for none
	}{
		{"AUTH=PLAIN with LOGINDISABLED", localmail.IMAPOptions{LoginDisabled: true}, "PLAIN"},
		{"AUTH=PLAIN and LOGIN", localmail.IMAPOptions{}, "PLAIN"},
		{"LOGIN only", localmail.IMAPOptions{NoAuthPlain: true}, "LOGIN"},
		{"neither", localmail.IMAPOptions{NoAuthPlain: true, LoginDisabled: true}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			metrics := intake.NewMetrics(nil)
			h := newHarnessWith(t, c.srv, harnessOptions{Modify: func(o *intake.Options) { o.Metrics = metrics }})
			h.deliver(goodSubmission(t, "login@dhs.gov"))
			h.start()
			if c.want == "" {
				waitFor(t, "two failed connections", func() bool { return testutil.ToFloat64(metrics.IMAPReconnects) >= 2 })
				if a := h.imap.Auths(); len(a) != 0 {
					t.Errorf("the server received %v: the password was sent", a)
				}
				if n := len(messagesWith(t, h.store, "")); n != 0 {
					t.Errorf("%d messages fetched without a login", n)
				}
				return
			}
			h.replies(1)
			a := h.imap.Auths()
			if len(a) == 0 {
				t.Fatal("no authentication recorded")
			}
			for _, x := range a {
				if x != (localmail.AuthAttempt{Mech: c.want, OK: true}) {
					t.Errorf("authentications %v, want only %s, successful", a, c.want)
					break
				}
			}
		})
	}
}

// With a poll interval of an hour, new mail is processed at once all the
// same: the server's IDLE notification wakes the loop.
func TestIdle_wakesForNewMail(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.PollInterval = time.Hour
		o.Metrics = metrics
	}})
	h.start()
	// The first round is over and the daemon waits in IDLE: only IDLE can
	// bring the next mail in before the hour is up.
	waitFor(t, "the daemon idling", func() bool { return h.imap.Idling() > 0 })
	h.deliver(goodSubmission(t, "idle@dhs.gov"))
	if got := parseReply(t, h.replies(1)[0]).InReplyTo; got != "idle@dhs.gov" {
		t.Errorf("answered %q", got)
	}
	h.waitFolder("Accepted", 1)
	// And again, on the same connection.
	waitFor(t, "the daemon idling again", func() bool { return h.imap.Idling() > 0 && h.imap.Idles() >= 2 })
	h.deliver(goodSubmission(t, "idle2@dhs.gov"))
	h.replies(2)
	if n := testutil.ToFloat64(metrics.IMAPReconnects); n != 0 {
		t.Errorf("%v reconnections: the mail must come through IDLE, not a new session", n)
	}
}

// Without IDLE (the server has none, or imap.disable_idle) the daemon
// polls, and never sends IDLE.
func TestPolling_withoutIdle(t *testing.T) {
	for _, c := range []struct {
		name    string
		srv     localmail.IMAPOptions
		disable bool
	}{
		{"server without IDLE", localmail.IMAPOptions{NoIdle: true}, false},
		{"disable_idle", localmail.IMAPOptions{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			metrics := intake.NewMetrics(nil)
			h := newHarnessWith(t, c.srv, harnessOptions{Modify: func(o *intake.Options) {
				o.IMAP.DisableIdle = c.disable
				o.Metrics = metrics
			}})
			h.start()
			h.waitFirstRound()
			h.deliver(goodSubmission(t, "poll@dhs.gov"))
			if got := parseReply(t, h.replies(1)[0]).InReplyTo; got != "poll@dhs.gov" {
				t.Errorf("answered %q", got)
			}
			h.waitFolder("Accepted", 1)
			if n := h.imap.Idles(); n != 0 {
				t.Errorf("%d IDLE commands sent", n)
			}
			if n := testutil.ToFloat64(metrics.IMAPReconnects); n != 0 {
				t.Errorf("%v reconnections", n)
			}
		})
	}
}

// One fetch command holds messages whose sizes sum to at most the batch
// budget; a message over it is fetched alone; every message is stored
// and answered once.
func TestFetch_batchBoundedBySize(t *testing.T) {
	var mu sync.Mutex
	size := map[imap.UID]int64{}
	var fetches [][]imap.UID // whole-message fetches, as the server saw them
	onFetch := func(set imap.NumSet, o *imap.FetchOptions) {
		whole := false
		for _, s := range o.BodySection {
			whole = whole || (s.Specifier == imap.PartSpecifierNone && len(s.Part) == 0)
		}
		uids, ok := set.(imap.UIDSet)
		if !whole || !ok {
			return
		}
		var got []imap.UID
		for _, r := range uids {
			for u := r.Start; u <= r.Stop && r.Stop != 0; u++ {
				got = append(got, u)
			}
		}
		mu.Lock()
		fetches = append(fetches, got)
		mu.Unlock()
	}
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	var raws [][]byte
	for i := range 6 {
		raws = append(raws, message{from: dhsSender, subject: "SES report", messageID: fmt.Sprintf("batch%d@dhs.gov", i), dmarc: "pass",
			files: []attachment{{"report.xlsx", wb}}}.bytes(t))
	}
	budget := int64(len(raws[0])) * 5 / 2 // two messages a batch
	big := message{from: dhsSender, subject: "SES report", messageID: "batch-big@dhs.gov", dmarc: "pass",
		body: strings.Repeat("A long covering note. ", int(budget)/20), files: []attachment{{"report.xlsx", wb}}}.bytes(t)
	if int64(len(big)) <= budget {
		t.Fatalf("the big message (%d bytes) is within the budget %d", len(big), budget)
	}
	raws = slices.Insert(raws, 3, big) // UID 4
	h := newHarnessWith(t, localmail.IMAPOptions{OnFetch: onFetch}, harnessOptions{Modify: func(o *intake.Options) { o.IMAP.BatchBytes = budget }})
	for _, raw := range raws {
		uid, err := h.imap.Deliver("INBOX", raw)
		if err != nil {
			t.Fatal(err)
		}
		size[uid] = int64(len(raw))
	}
	h.start()
	h.replies(len(raws))
	h.waitFolder("Accepted", len(raws))
	mu.Lock()
	defer mu.Unlock()
	var all []imap.UID
	for _, f := range fetches {
		var sum int64
		for _, u := range f {
			sum += size[u]
		}
		if len(f) > 1 && sum > budget {
			t.Errorf("one fetch of %v holds %d bytes, over the budget %d", f, sum, budget)
		}
		if slices.Contains(f, 4) && len(f) != 1 {
			t.Errorf("the message over the budget was fetched with others: %v", f)
		}
		all = append(all, f...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []imap.UID{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("messages fetched whole: %v, want each of 1-7 once", all)
	}
	if len(fetches) < 4 {
		t.Errorf("%d fetches %v: the batches are not bounded", len(fetches), fetches)
	}
	if n := countSubmissions(t, h.store); n != len(raws) {
		t.Errorf("%d submissions, want %d", n, len(raws))
	}
}

// A folder the server refuses to file into (over quota, say) leaves that
// mail unfiled, to be tried again, without holding up the rest: other mail
// is filed, new mail is fetched and answered, the session is kept.
func TestFilingRefusedForOneFolder(t *testing.T) {
	metrics := intake.NewMetrics(nil)
	h := newHarnessWith(t, localmail.IMAPOptions{RefuseFilingTo: "Deficient"}, harnessOptions{Modify: func(o *intake.Options) { o.Metrics = metrics }})
	h.deliver(message{from: dhsSender, subject: "SES report", messageID: "nosheet@dhs.gov", body: "see attached"}.bytes(t))
	h.start()
	h.replies(1)
	h.deliver(goodSubmission(t, "later@dhs.gov"))
	h.replies(2)
	h.waitFolder("Accepted", 1)
	if n, _ := h.imap.Count("INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want the refused mail only", n)
	}
	if n := testutil.ToFloat64(metrics.IMAPReconnects); n != 0 {
		t.Errorf("%v reconnections: a refused folder must not break the session", n)
	}
	if n := testutil.ToFloat64(metrics.Filed); n != 1 {
		t.Errorf("%v filed, want 1", n)
	}
}
