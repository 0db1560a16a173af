package intake_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/intake"
	"intake/parser/parsertest"
	"intake/store"
)

// bigBadWorkbook is a position report of agency code of rows positions,
// one of them with a designation that is not allowed: a deficient
// workbook, large as mail goes.
func bigBadWorkbook(t *testing.T, code string, rows int) []byte {
	t.Helper()
	data := make([][]string, rows)
	for i := range data {
		data[i] = []string{code, code + "01", fmt.Sprintf("%s-%06d", code, i), fmt.Sprintf("Deputy Assistant Secretary %d", i),
			fmt.Sprintf("Office of Programs, Division %d", i%97), "General", "N", "General", "", "Not applicable", "Career",
			fmt.Sprintf("position %d of the %s report, reviewed", i, code)}
	}
	data[rows/2][5] = "Generl"
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", parsertest.PositionSheet); err != nil {
		t.Fatal(err)
	}
	parsertest.WriteSheet(t, f, parsertest.PositionSheet, parsertest.PositionHeaders, data)
	return parsertest.Bytes(t, f)
}

// gate holds the decisions of chosen messages at the decide point until it
// is opened; started receives each held message's id.
type gate struct {
	started chan int64
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{started: make(chan int64, 16), open: make(chan struct{})} }

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// failpoint holds at PointDecide every message for which hold says so.
func (g *gate) failpoint(hold func(id int64) bool) func(string, int64) {
	return func(point string, id int64) {
		if point == intake.PointDecide && hold(id) {
			g.started <- id
			<-g.open
		}
	}
}

// waitStarted waits for n held decisions and returns their ids.
func (g *gate) waitStarted(t *testing.T, n int) []int64 {
	t.Helper()
	var ids []int64
	for len(ids) < n {
		select {
		case id := <-g.started:
			ids = append(ids, id)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d held decisions started", len(ids), n)
		}
	}
	return ids
}

// withEducation adds a third agency.
func withEducation(o *intake.Options) {
	o.Agencies = append(o.Agencies, intake.Agency{Code: "ED", Name: "Department of Education", Senders: []string{"@ed.gov"}})
}

// repliedTo reports whether a reply to addr reached the SMTP server.
func (h *harness) repliedTo(addr string) bool {
	for _, r := range h.smtp.Messages() {
		for _, to := range r.To {
			if strings.EqualFold(to, addr) {
				return true
			}
		}
	}
	return false
}

// Two large bad mails of two agencies, both being decided (held there),
// do not delay a small mail of a third: large mail takes at most
// Workers-1 workers, so one is left for it, and it is answered while the
// large ones are still undecided. Then the large ones are answered too.
func TestWorkers_largeMailDoesNotDelaySmallMailOfAnother(t *testing.T) {
	g := newGate()
	const large = 32 << 10
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		withEducation(o)
		o.Workers = 2
		o.LargeMessageBytes = large
		st := o.Store
		o.Failpoint = g.failpoint(func(id int64) bool {
			m, err := st.Message(context.Background(), id)
			return err == nil && len(m.Raw) >= large
		})
	}})
	t.Cleanup(g.release)
	trMail := message{from: "hr.director@treasury.gov", subject: "SES report", messageID: "big-tr@treasury.gov", dmarc: "pass",
		files: []attachment{{"treasury.xlsx", bigBadWorkbook(t, "TR", 1000)}}}.bytes(t)
	edMail := message{from: "hc@ed.gov", subject: "SES report", messageID: "big-ed@ed.gov", dmarc: "pass",
		files: []attachment{{"education.xlsx", bigBadWorkbook(t, "ED", 1000)}}}.bytes(t)
	if len(trMail) < large || len(edMail) < large {
		t.Fatalf("the large mails are %d and %d bytes, want at least %d", len(trMail), len(edMail), large)
	}
	h.deliver(trMail)
	h.deliver(edMail)
	h.start()
	held := g.waitStarted(t, 1)

	h.deliver(goodSubmission(t, "small@dhs.gov"))
	waitFor(t, "the small DHS mail answered while a large one is held", func() bool { return h.repliedTo(dhsSender) })
	select {
	case id := <-g.started:
		t.Fatalf("message %d (large) started while message %d (large) was being decided: large mail took every worker", id, held[0])
	default:
	}
	if h.repliedTo("hr.director@treasury.gov") || h.repliedTo("hc@ed.gov") {
		t.Fatal("a held large mail was answered")
	}

	g.release()
	h.replies(3)
	for _, m := range messagesWith(t, h.store, store.StatusDeficient) {
		if m.Agency != "TR" && m.Agency != "ED" {
			t.Errorf("deficient message %d of %s, want only the large TR and ED mail", m.ID, m.Agency)
		}
	}
	if n := len(messagesWith(t, h.store, store.StatusDeficient)); n != 2 {
		t.Errorf("%d deficient, want the 2 large mails", n)
	}
}

// The mail of one agency is decided in arrival order, one at a time, with
// workers to spare: its second version waits for its first, which is held,
// while another agency's mail goes ahead. The versions come out 1, 2, 3
// in arrival order, each acknowledgement against the one before.
func TestWorkers_orderPerAgencyKept(t *testing.T) {
	g := newGate()
	var (
		mu       sync.Mutex
		deciding = map[string]int{} // agency -> decisions under way
		overlap  []string
	)
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Workers = 4
		st := o.Store
		hold := g.failpoint(func(id int64) bool { return id == 1 })
		o.Failpoint = func(point string, id int64) {
			m, err := st.Message(context.Background(), id)
			if err != nil {
				return
			}
			agency := "TR"
			if strings.Contains(string(m.Raw), "dhs.gov") {
				agency = "HS"
			}
			switch point {
			case intake.PointDecide:
				mu.Lock()
				deciding[agency]++
				if deciding[agency] > 1 {
					overlap = append(overlap, fmt.Sprintf("message %d of %s", id, agency))
				}
				mu.Unlock()
				hold(point, id)
			case intake.PointCompleted:
				mu.Lock()
				deciding[agency]--
				mu.Unlock()
			}
		}
	}})
	t.Cleanup(g.release)
	versions := [][]parsertest.Position{parsertest.GoodPositions(), parsertest.GoodPositions(), parsertest.GoodPositions()}
	versions[1][0].Title = "Deputy Under Secretary for Policy and Plans"
	versions[2] = versions[2][:4]
	for i, pos := range versions {
		h.deliver(message{from: dhsSender, subject: "SES report", messageID: fmt.Sprintf("v%d@dhs.gov", i+1), dmarc: "pass",
			files: []attachment{{"report.xlsx", parsertest.SESWorkbook(t, pos, parsertest.GoodRetentions())}}}.bytes(t))
	}
	h.deliver(message{from: "hr.director@treasury.gov", subject: "TR", messageID: "tr@treasury.gov", dmarc: "pass",
		files: []attachment{{"tr.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}}}.bytes(t))
	h.start()
	g.waitStarted(t, 1) // DHS's first version is held
	waitFor(t, "Treasury answered while DHS's first version is held", func() bool { return h.repliedTo("hr.director@treasury.gov") })
	g.release()
	h.replies(4)

	mu.Lock()
	if len(overlap) > 0 {
		t.Errorf("decided while another mail of the same agency was: %v", overlap)
	}
	mu.Unlock()
	subs, err := h.store.Submissions(context.Background(), store.ListFilter{Agency: "HS"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range subs {
		got[s.MessageID] = s.Version
	}
	for i := range versions {
		id := fmt.Sprintf("v%d@dhs.gov", i+1)
		if got[id] != i+1 {
			t.Errorf("%s became version %d, want %d (versions by Message-ID: %v)", id, got[id], i+1, got)
		}
	}
	// Each acknowledgement states the changes against the version before.
	for _, r := range h.smtp.Messages() {
		m := parseReply(t, r)
		switch m.InReplyTo {
		case "v2@dhs.gov":
			if !strings.Contains(m.Text, "HS-0001") {
				t.Errorf("version 2's acknowledgement does not name the changed HS-0001:\n%s", m.Text)
			}
		case "v3@dhs.gov":
			if !strings.Contains(m.Text, "HS-0005") {
				t.Errorf("version 3's acknowledgement does not name the removed HS-0005:\n%s", m.Text)
			}
		}
	}
}

// A mail not decided within MaxProcessTime is quarantined at once with
// the reason, for staff, and unanswered; the next mail of the same agency
// and another agency's are answered.
func TestWorkers_deadlineQuarantines(t *testing.T) {
	g := newGate()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Workers = 2
		o.MaxProcessTime = 5 * time.Second
		o.Failpoint = g.failpoint(func(id int64) bool { return id == 1 }) // held past any deadline
	}})
	h.deliver(goodSubmission(t, "stuck@dhs.gov"))
	h.deliver(message{from: "deputy@dhs.gov", subject: "SES report", messageID: "next@dhs.gov", dmarc: "pass",
		files: []attachment{{"report.xlsx", parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}}}.bytes(t))
	h.deliver(message{from: "hr.director@treasury.gov", subject: "TR", messageID: "tr@treasury.gov", dmarc: "pass",
		files: []attachment{{"tr.xlsx", parsertest.SESWorkbook(t, trPositions(), nil)}}}.bytes(t))
	h.start()
	t.Cleanup(g.release) // the held decision, given up on at its deadline, ends once let go
	g.waitStarted(t, 1)
	h.waitFolder("Quarantine", 1)
	rs := h.replies(2)
	for _, r := range rs {
		if parseReply(t, r).InReplyTo == "stuck@dhs.gov" {
			t.Error("the mail past its deadline was answered")
		}
	}
	m, err := h.store.Message(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.StatusQuarantined || m.Folder != "Quarantine" || !strings.Contains(m.LastError, "max_process_time") {
		t.Errorf("the stuck mail is %s in %q with reason %q; want quarantined in Quarantine, the reason naming max_process_time",
			m.Status, m.Folder, m.LastError)
	}
	if m.Attempts != 1 {
		t.Errorf("the stuck mail was tried %d times, want once", m.Attempts)
	}
}

// Cancelling Run while a mail is being decided (held there, as a check
// that does not end would be) stops the daemon within 5 s, and the mail
// stays pending, to be decided after the restart.
func TestWorkers_stopDuringDecision(t *testing.T) {
	g := newGate()
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		o.Failpoint = g.failpoint(func(id int64) bool { return id == 1 })
	}})
	t.Cleanup(g.release)
	h.deliver(goodSubmission(t, "long@dhs.gov"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	g.waitStarted(t, 1)
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Run took %s to stop, want at most 5 s", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop within 20 s of its context ending, while a mail was being decided")
	}
	g.release()
	if ms := messagesWith(t, h.store, store.StatusReceived); len(ms) != 1 {
		t.Errorf("%d messages pending after the stop, want the one being decided", len(ms))
	}
}
