package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"intake/intake"
	"intake/parser"
	"intake/parser/email"
	"intake/store"
)

// statusFixture is a store seen through the configuration the binary
// reads: four agencies expected, each standing differently on the SES
// review.
type statusFixture struct {
	cfgPath string
	db      string
	now     time.Time
}

// agencyCase: HS accepted, then a deficient attempt; DJ replaced only its
// position report (its retention requests stay in force); TR sent only a
// deficient workbook; ED sent nothing.
func newStatusFixture(t *testing.T) *statusFixture {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	cfgPath := filepath.Join(dir, "intake.yaml")
	yaml := fmt.Sprintf(`from: allocation-management@opm.gov
store: %s
agencies:
  - {code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"], contacts: [chco@dhs.gov]}
  - {code: DJ, name: Department of Justice, senders: ["@usdoj.gov"], contacts: [hr@usdoj.gov]}
  - {code: TR, name: Department of the Treasury, senders: ["@treasury.gov"], contacts: [hr@treasury.gov]}
  - {code: ED, name: Department of Education, senders: ["@ed.gov"], contacts: [hr@ed.gov]}
`, db)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ny, _ := time.LoadLocation("America/New_York")
	at := func(d int) time.Time { return time.Date(2025, 3, d, 10, 0, 0, 0, ny) }
	both := []string{"position-report", "retention-request"}
	n := 0
	add := func(agency string, accepted bool, day int, kinds []string) {
		t.Helper()
		n++
		raw := []byte(fmt.Sprintf("Message-ID: <m%d@agency.gov>\r\n\r\nbody", n))
		h := sha256.Sum256(raw)
		id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(n),
			MessageID: fmt.Sprintf("<m%d@agency.gov>", n), SHA256: hex.EncodeToString(h[:]), Raw: raw, ReceivedAt: at(day)})
		if err != nil {
			t.Fatal(err)
		}
		var sheets []parser.SheetResult
		var records []parser.Record
		for _, k := range kinds {
			sheets = append(sheets, parser.SheetResult{Name: k, Kind: k, Rows: 1})
			records = append(records, parser.Record{Kind: k, File: "r.xlsx", Sheet: k, Row: 2, Fields: map[string]string{"position_number": agency + "-1"}})
		}
		res := parser.Submission{Call: "ses-designation-review", Agency: agency, Records: records,
			Files: []parser.FileResult{{Name: "r.xlsx", Sheets: sheets}}}
		status := store.StatusAccepted
		if !accepted {
			status = store.StatusDeficient
			// Long enough that a terminal line would wrap: show and check
			// wrap it, list and status never print it.
			res.Findings = []parser.Finding{{File: "r.xlsx", Sheet: "position-report", Row: 2, Col: 3, Column: "Position Number",
				Code: "required", Severity: parser.SeverityError, Message: strings.Repeat("The position number is missing. ", 8),
				Fix: strings.Repeat("Give the position number as the agency's position management system has it. ", 3)}}
		}
		if _, err := st.Complete(ctx, store.Completion{Message: id, Status: status, Agency: agency, Call: "ses-designation-review", Now: at(day),
			Submission: &store.NewSubmission{Receipt: fmt.Sprintf("SES-2025-%06d", id), Call: "ses-designation-review", Agency: agency,
				Sender: "human.resources.office.of.the.chief.human.capital.officer@" + strings.ToLower(agency) + ".gov", Accepted: accepted, ReceivedAt: at(day), Result: res}}); err != nil {
			t.Fatal(err)
		}
	}
	add("HS", true, 10, both)
	add("DJ", true, 11, both)
	add("TR", false, 12, both)
	add("DJ", true, 13, []string{"position-report"})
	add("HS", false, 14, both)
	// The reminders look ReminderDays ahead of now: the deadline (24
	// March) is within a week.
	return &statusFixture{cfgPath: cfgPath, db: db, now: at(20)}
}

// want is where each agency stands in the fixture.
var wantStates = map[string]string{"HS": "accepted", "DJ": "accepted", "TR": "deficient", "ED": "missing"}

// TestStatus_allAgree: `intake status`, the dashboard's overview, its JSON
// API, the call page's chart and the reminders read one store and agree on where each agency
// stands (issue 17: they used to give three answers).
func TestStatus_allAgree(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	clock := func() time.Time { return f.now }

	// 1. intake status
	var out, errOut bytes.Buffer
	e := &env{stdout: newTermWriter(&out), stderr: &errOut, rawStdout: &out, now: clock}
	if err := cmdStatus(ctx, e, []string{"--config", f.cfgPath, "--call", "ses-designation-review"}); err != nil {
		t.Fatalf("status: %v\n%s", err, errOut.String())
	}
	cli := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && len(fields[0]) == 2 && fields[0] == strings.ToUpper(fields[0]) && fields[0] != "SE" {
			cli[fields[0]] = strings.ToLower(fields[1])
		}
	}
	if !maps.Equal(cli, wantStates) {
		t.Errorf("intake status says %v, want %v\n%s", cli, wantStates, out.String())
	}
	for _, want := range []string{"newest deficient", "part of v1 in force", "Expected 4: accepted 2 (late 0, newest deficient 1), deficient 1, missing 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("intake status lacks %q:\n%s", want, out.String())
		}
	}

	// 2. and 3. the dashboard and its JSON, wired as `intake serve` wires them
	t.Setenv("INTAKE_WEB_USER", "staff")
	t.Setenv("INTAKE_WEB_PASSWORD", "a long enough password")
	cfg, err := LoadConfig(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, &env{stdout: &out, stderr: &errOut}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.now = clock
	srv, err := a.webHandler()
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.SetBasicAuth("staff", "a long enough password")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
		}
		return w
	}
	var api struct {
		Periods []struct {
			Agencies []struct{ Code, State string }
			Missing  []struct{ Code string }
		}
	}
	body := get("/api/calls/ses-designation-review/status").Body.Bytes()
	if err := json.Unmarshal(body, &api); err != nil || len(api.Periods) != 1 {
		t.Fatalf("api: %v %s", err, body)
	}
	web := map[string]string{}
	for _, ag := range api.Periods[0].Agencies {
		web[ag.Code] = ag.State
	}
	if !maps.Equal(web, wantStates) {
		t.Errorf("the JSON API says %v, want %v", web, wantStates)
	}
	if len(api.Periods[0].Missing) != 1 || api.Periods[0].Missing[0].Code != "ED" {
		t.Errorf("the JSON API's missing = %+v, want ED only, as intake status", api.Periods[0].Missing)
	}
	page := get("/").Body.String()
	for code, state := range wantStates {
		if !strings.Contains(page, `<span class="mono">`+code+`</span>`) || !strings.Contains(page, `class="`+state+`">`+state) {
			t.Errorf("the overview page does not show %s %s", code, state)
		}
	}
	if !strings.Contains(page, "Missing (1)") {
		t.Errorf("the overview page does not list one missing agency")
	}
	// The overview shows what intake status shows: the outstanding
	// agencies (the reminders' list), the counts, HS's newest attempt
	// deficient, and DJ's retention requests still in force from v1.
	for _, want := range []string{"Outstanding (2):", `<span class="mono">ED</span> Department of Education`,
		`<strong>4</strong> expected`, `<strong class="accepted">2</strong> accepted (1 newest deficient)`,
		`<strong class="deficient">1</strong> deficient`, `<strong class="missing">1</strong> missing`,
		`accepted <span class="flag deficient">newest deficient: SES-2025-000005</span>`,
		`<span class="flag">retention-request of v1 in force</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview page lacks %q", want)
		}
	}

	// 5. the call page's chart: its last point (now) counts the agencies
	// as the others list them.
	svg := get("/calls/ses-designation-review/chart.svg").Body.String()
	counts := map[string]int{}
	for _, st := range wantStates {
		counts[st]++
	}
	for st, n := range counts {
		if want := fmt.Sprintf(">%s (%d)</text>", st, n); !strings.Contains(svg, want) {
			t.Errorf("the chart's legend lacks %q:\n%s", want, svg)
		}
	}
	if want := fmt.Sprintf("%d accepted, %d deficient, %d missing.", counts["accepted"], counts["deficient"], counts["missing"]); !strings.Contains(svg, want) {
		t.Errorf("the chart's description lacks %q:\n%s", want, svg)
	}

	// 4. the reminders go to exactly the agencies without an accepted answer.
	opts, err := a.daemonOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Now, opts.ReminderDays = clock, 7
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.QueueReminders(ctx); err != nil {
		t.Fatal(err)
	}
	due, err := a.store.DueReplies(ctx, f.now.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var reminded []string
	for _, r := range due {
		m, err := email.Parse(r.Raw, email.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Subject, a.calls.Get("ses-designation-review").Title) {
			continue // another call's reminder
		}
		for _, ag := range a.agencies {
			if slices.Contains(ag.Contacts, r.To[0]) {
				reminded = append(reminded, ag.Code)
			}
		}
	}
	slices.Sort(reminded)
	var outstanding []string
	for code, state := range wantStates {
		if state != "accepted" {
			outstanding = append(outstanding, code)
		}
	}
	slices.Sort(outstanding)
	if !slices.Equal(reminded, outstanding) {
		t.Errorf("reminded %v, want the agencies not accepted %v", reminded, outstanding)
	}
}
