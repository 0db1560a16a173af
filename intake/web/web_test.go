package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"intake/intake/web"
	"intake/parser"
	"intake/store"
)

const testCall = `
id: test-call
title: Test call
receipt_prefix: TST
deadline:
  date: "2025-03-24"
  zone: America/New_York
kinds:
  - id: position-report
    title: Position report
    key: [position_number]
    columns:
      - key: agency_code
        header: Agency Code
        type: text
      - key: position_number
        header: Position Number
        type: text
      - key: notes
        header: Notes
        type: text
`

const weeklyCall = `
id: weekly-call
title: Weekly call
receipt_prefix: WK
deadline:
  weekly: {weekday: Monday, start: "2025-03-03", until: "2025-09-29"}
kinds:
  - id: counts
    title: Counts
    columns:
      - key: agency_code
        header: Agency Code
        type: text
      - key: resigned
        header: Resigned
        type: integer
`

// piiCall holds personal data: its records need a grant.
const piiCall = `
id: pii-call
title: Personal call
receipt_prefix: PII
pii: true
deadline:
  date: "2025-03-07"
  zone: America/New_York
kinds:
  - id: employees
    title: Employees
    columns:
      - key: agency_code
        header: Agency Code
        type: text
      - key: employee_name
        header: Employee Name
        type: text
`

const (
	user = "staff"
	pass = "correct horse battery staple"
)

// now is two days after the test call's deadline (24 March 2025, New York).
var now = time.Date(2025, 3, 26, 15, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	st    *store.Store
	path  string // the store's file
	calls *parser.Registry
	srv   *web.Server
	n     int
}

type options struct {
	metrics     http.Handler
	health      func(*store.Store) func(context.Context) error
	now         func() time.Time // default: the fixed now
	throttle    web.Throttle
	behindProxy bool
	users       map[string]web.User // more users beside staff
}

// hash is a bcrypt hash of password at the lowest cost, so tests sign in
// quickly.
func hash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var defs []*parser.Definition
	for name, y := range map[string]string{"test-call.yaml": testCall, "weekly-call.yaml": weeklyCall, "pii-call.yaml": piiCall} {
		d, err := parser.ParseDefinition(name, []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	calls, err := parser.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	var health func(context.Context) error
	if o.health != nil {
		health = o.health(st)
	}
	users := map[string]web.User{user: {PasswordHash: hash(t, pass), Role: web.RoleAnalyst}}
	maps.Copy(users, o.users)
	if o.now == nil {
		o.now = func() time.Time { return now }
	}
	srv, err := web.New(web.Options{Store: st, Calls: calls, Users: users, Health: health,
		Agencies: map[string]string{"HS": "Department of Homeland Security", "DJ": "Department of Justice",
			"TR": "Department of the Treasury"},
		Now: o.now, Metrics: o.metrics, Throttle: o.throttle, BehindTLSProxy: o.behindProxy})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, path: path, calls: calls, srv: srv}
}

type sub struct {
	call, receipt, agency, period string
	accepted, late                bool
	fileName                      string
	fileData                      []byte
	records                       []parser.Record
	findings                      []parser.Finding
	at                            time.Time
}

// submit stores a submission as the pipeline does: the raw message, then
// Complete with its reply.
func (f *fixture) submit(s sub) {
	f.t.Helper()
	ctx := context.Background()
	f.n++
	if s.at.IsZero() {
		s.at = time.Date(2025, 3, 20, 12, 0, f.n, 0, time.UTC)
	}
	if s.call == "" {
		s.call = "test-call"
	}
	raw := []byte(fmt.Sprintf("Message-ID: <m%d@agency.gov>\r\n\r\nbody", f.n))
	h := sha256.Sum256(raw)
	id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(f.n),
		MessageID: fmt.Sprintf("<m%d@agency.gov>", f.n), SHA256: hex.EncodeToString(h[:]), Raw: raw,
		Size: int64(len(raw)), ReceivedAt: s.at})
	if err != nil {
		f.t.Fatal(err)
	}
	if s.fileName == "" {
		s.fileName = "report.xlsx"
	}
	if s.fileData == nil {
		s.fileData = []byte(fmt.Sprintf("workbook %d", f.n))
	}
	fh := sha256.Sum256(s.fileData)
	for i := range s.records {
		s.records[i].File, s.records[i].Sheet, s.records[i].Row = s.fileName, "Positions", i+2
	}
	status, kind := store.StatusAccepted, "acknowledgement"
	if !s.accepted {
		status, kind = store.StatusDeficient, "deficiency"
	}
	_, err = f.st.Complete(ctx, store.Completion{Message: id, Status: status, From: "hr@agency.gov", Agency: s.agency,
		Call: s.call, Now: s.at,
		Submission: &store.NewSubmission{Receipt: s.receipt, Call: s.call, Agency: s.agency, Period: s.period,
			Sender: "hr@agency.gov", Accepted: s.accepted, Late: s.late, ReceivedAt: s.at,
			Files: []store.File{{Name: s.fileName, SHA256: hex.EncodeToString(fh[:]), Data: s.fileData}},
			Result: parser.Submission{Call: s.call, Agency: s.agency, Period: s.period, Records: s.records,
				Findings: s.findings}},
		Reply: &store.NewReply{MessageID: fmt.Sprintf("reply-%d@intake.opm.gov", f.n), Kind: kind,
			From: "intake@opm.gov", To: []string{"hr@agency.gov"}, Raw: []byte("reply")},
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// seed: HS on time and accepted, DJ accepted but late, TR missing; a
// deficient submission from HS with findings and hostile values.
func (f *fixture) seed() {
	f.submit(sub{receipt: "TST-1", agency: "HS", accepted: true,
		records: []parser.Record{pos("HS", "P-1", "fine"), pos("HS", "P-2", "=cmd|' /C calc'!A0")}})
	f.submit(sub{receipt: "TST-2", agency: "DJ", accepted: true, late: true, at: time.Date(2025, 3, 25, 16, 0, 0, 0, time.UTC),
		records: []parser.Record{pos("DJ", "D-1", "+1")}})
	f.submit(sub{receipt: "TST-3", agency: "HS", accepted: false, fileName: `C:\Users\x\evil"name<>.xlsx`,
		fileData: []byte("PK\x03\x04 exact bytes \x00\xff"),
		records:  []parser.Record{pos("HS", "P-9", "<script>alert(1)</script>")},
		findings: []parser.Finding{
			{File: "evil.xlsx", Sheet: "Positions", Row: 7, Col: 4, Column: "Position Number", Code: "required",
				Severity: parser.SeverityError, Message: "Position Number is required", Fix: "Give the position number."},
			{File: "evil.xlsx", Sheet: "Retention", Row: 3, Col: 28, Code: "not-allowed", Severity: parser.SeverityWarning,
				Message: "<b>bold</b> claim"},
		}})
}

func pos(agency, number, notes string) parser.Record {
	return parser.Record{Kind: "position-report", Fields: map[string]string{
		"agency_code": agency, "position_number": number, "notes": notes}}
}

// get requests path from the server, with the staff's credentials unless
// noAuth.
func (f *fixture) get(path string, auth ...string) *http.Response {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	switch {
	case len(auth) == 2:
		req.SetBasicAuth(auth[0], auth[1])
	case len(auth) == 0:
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNew_noUsers(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls, err := parser.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for name, users := range map[string]map[string]web.User{"none": nil, "empty password": {"staff": {Role: web.RoleAnalyst}}} {
		if _, err := web.New(web.Options{Store: st, Calls: calls, Users: users}); err == nil || !strings.HasPrefix(err.Error(), "web: ") {
			t.Errorf("%s: New err = %v, want a web: error", name, err)
		}
	}
}

func TestAuth(t *testing.T) {
	// Many failures from one client: the throttle (security_test.go) is
	// set wide enough for all of them.
	f := newFixture(t, options{throttle: web.Throttle{ClientBurst: 1000, UserBurst: 1000}})
	f.seed()
	paths := []string{"/", "/submissions", "/submissions/TST-1", "/messages", "/export?call=test-call",
		"/api/submissions", "/api/submissions/TST-1", "/api/calls/test-call/status", "/static/style.css", "/metrics",
		"/no/such/page"}
	for _, p := range paths {
		for name, auth := range map[string][]string{
			"none":           {"-"},
			"wrong password": {user, pass + "x"},
			"unknown user":   {"mallory", pass},
			"empty":          {"", ""},
		} {
			res := f.get(p, auth...)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s credentials: status %d, want 401", p, name, res.StatusCode)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s: no Basic challenge", p)
			}
			if b := body(t, res); strings.Contains(b, "TST-1") || strings.Contains(b, "calc") {
				t.Errorf("%s: data in a 401 body: %q", p, b)
			}
		}
		res := f.get(p)
		want := http.StatusOK
		if p == "/metrics" || p == "/no/such/page" {
			want = http.StatusNotFound // no metrics handler configured
		}
		if res.StatusCode != want {
			t.Errorf("%s with the right credentials: status %d, want %d", p, res.StatusCode, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	f := newFixture(t, options{})
	res := f.get("/")
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
		"Content-Type":           "text/html; charset=utf-8",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// Unauthenticated answers carry them too.
	if got := f.get("/", "-").Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("401: X-Frame-Options = %q", got)
	}
}

func TestHealthz(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "intake_up 1\n") })
	f := newFixture(t, options{metrics: metrics})
	res := f.get("/healthz", "-")
	if b := body(t, res); res.StatusCode != http.StatusOK || b != "ok" {
		t.Errorf("healthz = %d %q, want 200 ok", res.StatusCode, b)
	}
	res = f.get("/metrics", "-")
	if b := body(t, res); res.StatusCode != http.StatusOK || b != "intake_up 1\n" {
		t.Errorf("metrics = %d %q", res.StatusCode, b)
	}
	f.st.Close()
	if res := f.get("/healthz", "-"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz with a closed store = %d, want 503", res.StatusCode)
	}
}

func TestOverview(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	res := f.get("/")
	b := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	for _, want := range []string{"Test call", "Missing (1)", "Department of the Treasury", "TST-1", "TST-2",
		`<span class="late">late</span>`, `<span class="overdue">overdue</span>`, `<strong class="accepted">2</strong> accepted (1 late, 1 newest deficient)`,
		// HS's version in force is TST-1; its later deficient TST-3 is a flag.
		`<td><a href="/submissions/TST-1">TST-1</a></td>`,
		`accepted <span class="flag deficient">newest deficient: <a href="/submissions/TST-3">TST-3</a></span>`} {
		if !strings.Contains(b, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if n := strings.Count(b, "TST-3"); n != 2 { // the link and its text, in the flag only
		t.Errorf("overview names HS's later deficient resubmission %d times, want only in its flag", n)
	}
}

// The JSON API's types, as a client would declare them.
type (
	agencyJSON struct {
		Code, Name, State, Receipt string
		Version                    int
		Late, Overdue, Expected    bool
	}
	periodJSON struct {
		Period   string
		Due      time.Time
		PastDue  bool `json:"past_due"`
		Expected int
		Accepted int
		Agencies []agencyJSON
		Missing  []struct{ Code, Name string }
	}
	callJSON struct {
		Call, Title string
		Weekly      bool
		Periods     []periodJSON
	}
)

func decode[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	var v T
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestAPI_callStatus(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	res := f.get("/api/calls/test-call/status")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	c := decode[callJSON](t, res)
	if c.Call != "test-call" || len(c.Periods) != 1 {
		t.Fatalf("call = %+v", c)
	}
	p := c.Periods[0]
	if !p.PastDue || p.Expected != 3 || p.Accepted != 2 || len(p.Missing) != 1 || p.Missing[0].Code != "TR" {
		t.Errorf("period = %+v", p)
	}
	if want := time.Date(2025, 3, 25, 3, 59, 59, 0, time.UTC); !p.Due.Equal(want) { // whole seconds (RFC 3339)
		t.Errorf("due = %v, want %v", p.Due, want)
	}
	got := map[string]agencyJSON{}
	for _, a := range p.Agencies {
		got[a.Code] = a
	}
	if a := got["DJ"]; a.State != "accepted" || !a.Late || a.Receipt != "TST-2" || a.Version != 1 {
		t.Errorf("DJ = %+v, want accepted and late", a)
	}
	if a := got["HS"]; a.State != "accepted" || a.Late || a.Receipt != "TST-1" {
		t.Errorf("HS = %+v, want accepted on time with TST-1", a)
	}
	if a := got["TR"]; a.State != "missing" || !a.Overdue || a.Receipt != "" {
		t.Errorf("TR = %+v, want missing and overdue", a)
	}
	if res := f.get("/api/calls/nope/status"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown call: %d", res.StatusCode)
	}
}

func TestAPI_weekly(t *testing.T) {
	f := newFixture(t, options{})
	// now (Wednesday 26 March 2025) is in week 13, due Monday 31 March;
	// the latest passed deadline is Monday 24 March, for week 12.
	f.submit(sub{call: "weekly-call", receipt: "WK-1", agency: "HS", period: "2025-W12", accepted: true,
		records: []parser.Record{{Kind: "counts", Fields: map[string]string{"agency_code": "HS", "resigned": "3"}}}})
	c := decode[callJSON](t, f.get("/api/calls/weekly-call/status"))
	if !c.Weekly || len(c.Periods) != 2 {
		t.Fatalf("call = %+v, want two periods", c)
	}
	cur, last := c.Periods[0], c.Periods[1]
	if cur.Period != "2025-W13" || cur.PastDue || cur.Accepted != 0 || len(cur.Missing) != 3 {
		t.Errorf("current period = %+v", cur)
	}
	if last.Period != "2025-W12" || !last.PastDue || last.Accepted != 1 || len(last.Missing) != 2 {
		t.Errorf("last period = %+v", last)
	}
}

func TestSubmissionDetail(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	res := f.get("/submissions/TST-3")
	b := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	for _, want := range []string{
		`sheet “Positions”`, `sheet “Retention”`, ">D7<", ">AB3<", "Position Number is required", "Give the position number.",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;bold&lt;/b&gt; claim", "deficiency", "queued",
		"reply-3@intake.opm.gov", "Agency Code", "Position Number", "Notes",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "<b>bold"} {
		if strings.Contains(b, bad) {
			t.Errorf("detail page has unescaped %q", bad)
		}
	}
	h := sha256.Sum256([]byte("PK\x03\x04 exact bytes \x00\xff"))
	if !strings.Contains(b, `href="/submissions/TST-3/files/`+hex.EncodeToString(h[:])+`"`) {
		t.Error("detail page lacks the file's download link")
	}
	if res := f.get("/submissions/NOPE-1"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown receipt: %d", res.StatusCode)
	}
}

func TestSubmissionDetail_manyRecords(t *testing.T) {
	f := newFixture(t, options{})
	var recs []parser.Record
	for i := range 520 {
		recs = append(recs, pos("HS", fmt.Sprintf("P-%d", i), "n"))
	}
	f.submit(sub{receipt: "TST-9", agency: "HS", accepted: true, records: recs})
	b := body(t, f.get("/submissions/TST-9"))
	if !strings.Contains(b, "Showing the first 500 of 520 records") {
		t.Error("detail page does not say records were left out")
	}
	if !strings.Contains(b, ">P-499<") || strings.Contains(b, ">P-500<") {
		t.Error("detail page does not show exactly the first 500 records")
	}
}

func TestFileDownload(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	data := []byte("PK\x03\x04 exact bytes \x00\xff")
	h := sha256.Sum256(data)
	for _, sum := range []string{hex.EncodeToString(h[:]), strings.ToUpper(hex.EncodeToString(h[:]))} {
		res := f.get("/submissions/TST-3/files/" + sum)
		if got := body(t, res); res.StatusCode != http.StatusOK || got != string(data) {
			t.Fatalf("download = %d %q, want the exact bytes", res.StatusCode, got)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		cd := res.Header.Get("Content-Disposition")
		if !strings.HasPrefix(cd, "attachment;") || strings.ContainsAny(cd, `\<>`) || strings.Contains(cd, "Users") {
			t.Errorf("Content-Disposition = %q, want an attachment with a sanitised name", cd)
		}
	}
	// Another submission's file is not reachable under this receipt.
	other := sha256.Sum256([]byte("workbook 1"))
	if res := f.get("/submissions/TST-3/files/" + hex.EncodeToString(other[:])); res.StatusCode != http.StatusNotFound {
		t.Errorf("file of TST-1 under TST-3: %d, want 404", res.StatusCode)
	}
	if res := f.get("/submissions/TST-3/files/..%2f..%2fetc"); res.StatusCode != http.StatusNotFound {
		t.Errorf("bad hash: %d, want 404", res.StatusCode)
	}
}

func TestExport(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	res := f.get("/export?call=test-call&kind=position-report&format=csv&current=1")
	b := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "receipt" || rows[0][len(rows[0])-1] != "Notes" {
		t.Fatalf("rows = %q", rows)
	}
	var notes []string
	for _, r := range rows[1:] {
		notes = append(notes, r[len(r)-1])
	}
	if !slices.Contains(notes, "'=cmd|' /C calc'!A0") || !slices.Contains(notes, "'+1") {
		t.Errorf("notes = %q, want neutralised formulas", notes)
	}
	if slices.Contains(notes, "<script>alert(1)</script>") {
		t.Error("current-only export holds the deficient submission")
	}

	res = f.get("/export?call=test-call&format=xlsx")
	if xb := body(t, res); res.StatusCode != http.StatusOK || !bytes.HasPrefix([]byte(xb), []byte("PK")) {
		t.Errorf("xlsx export = %d, %d bytes", res.StatusCode, len(xb))
	}
	for path, want := range map[string]int{
		"/export?call=nope":                   http.StatusNotFound,
		"/export?call=test-call&kind=nope":    http.StatusNotFound,
		"/export?call=test-call&format=pdf":   http.StatusBadRequest,
		"/export?call=test-call&format=csv&x": http.StatusOK,
	} {
		if res := f.get(path); res.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
		}
	}
}

func TestAPI_submissions(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	type row struct {
		Receipt, Agency, State string
		Late                   bool
		Errors                 int
		MessageID              string `json:"message_id"`
	}
	list := decode[struct{ Submissions []row }](t, f.get("/api/submissions?agency=hs"))
	var receipts []string
	for _, r := range list.Submissions {
		receipts = append(receipts, r.Receipt)
	}
	if !slices.Equal(receipts, []string{"TST-3", "TST-1"}) {
		t.Errorf("HS submissions = %q, want TST-3, TST-1 (newest first)", receipts)
	}
	list = decode[struct{ Submissions []row }](t, f.get("/api/submissions?state=deficient"))
	if len(list.Submissions) != 1 || list.Submissions[0].Errors != 1 || list.Submissions[0].MessageID != "<m3@agency.gov>" {
		t.Errorf("deficient = %+v", list.Submissions)
	}

	type detail struct {
		Receipt  string
		Files    []struct{ Name, SHA256, URL string }
		Findings []struct {
			Sheet string
			Items []struct{ Cell, Code, Message string }
		}
		Records []struct {
			Kind string
			Keys []string
			Rows []struct {
				Row    int
				Values []string
			}
		}
		RecordsTotal int `json:"records_total"`
		Replies      []struct{ Kind, Status string }
	}
	d := decode[detail](t, f.get("/api/submissions/TST-3"))
	if d.Receipt != "TST-3" || len(d.Files) != 1 || len(d.Findings) != 2 || d.Findings[0].Items[0].Cell != "D7" ||
		d.Findings[1].Items[0].Cell != "AB3" {
		t.Errorf("detail = %+v", d)
	}
	if d.RecordsTotal != 1 || len(d.Records) != 1 || d.Records[0].Rows[0].Values[2] != "<script>alert(1)</script>" {
		t.Errorf("records = %+v", d.Records)
	}
	if len(d.Replies) != 1 || d.Replies[0].Kind != "deficiency" || d.Replies[0].Status != "queued" {
		t.Errorf("replies = %+v", d.Replies)
	}
	res := f.get("/api/submissions/NOPE")
	if e := decode[struct{ Error string }](t, res); res.StatusCode != http.StatusNotFound || e.Error == "" {
		t.Errorf("unknown receipt: %d %+v", res.StatusCode, e)
	}
}

func TestMessages(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	ctx := context.Background()
	for i, c := range []struct{ status, note string }{
		{store.StatusRejected, "sender <forged@evil.example> not allowed"},
		{store.StatusIgnored, "auto-reply"},
	} {
		id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(100 + i),
			SHA256: fmt.Sprint(i), Raw: []byte("x"), ReceivedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Complete(ctx, store.Completion{Message: id, Status: c.status, Note: c.note, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	b := body(t, f.get("/messages"))
	for _, want := range []string{"sender &lt;forged@evil.example&gt; not allowed", "auto-reply", "rejected", "ignored"} {
		if !strings.Contains(b, want) {
			t.Errorf("messages page lacks %q", want)
		}
	}
	if strings.Contains(b, "<m1@agency.gov>") || strings.Contains(b, "&lt;m1@agency.gov&gt;") {
		t.Error("messages page lists a submission")
	}
	b = body(t, f.get("/messages?status=ignored"))
	if !strings.Contains(b, "auto-reply") || strings.Contains(b, "forged@evil.example") {
		t.Error("status filter not applied")
	}
}

func TestSubmissionsPage(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	b := body(t, f.get("/submissions?call=test-call&state=current"))
	if !strings.Contains(b, "TST-1") || !strings.Contains(b, "TST-2") || strings.Contains(b, ">TST-3<") {
		t.Error("current submissions not listed as filtered")
	}
}

// Pages render from many goroutines at once (run with -race).
func TestConcurrentRender(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	paths := []string{"/", "/submissions", "/submissions/TST-3", "/messages", "/api/calls/test-call/status"}
	want := map[string]string{}
	for _, p := range paths {
		want[p] = body(t, f.get(p))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := paths[i%len(paths)]
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.SetBasicAuth(user, pass)
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != want[p] {
				errs <- fmt.Sprintf("%s: %d, body differs: %v", p, rec.Code, rec.Body.String() != want[p])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestExport_storeFailure(t *testing.T) {
	f := newFixture(t, options{})
	f.st.Close()
	for _, format := range []string{"csv", "xlsx"} {
		res := f.get("/export?call=test-call&format=" + format)
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s export from a closed store: %d, Content-Disposition %q; want 500 and no download",
				format, res.StatusCode, res.Header.Get("Content-Disposition"))
		}
		if b := body(t, res); strings.Contains(b, "store") {
			t.Errorf("error body leaks the cause: %q", b)
		}
	}
}
