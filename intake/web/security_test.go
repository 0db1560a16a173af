package web_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"intake/intake/web"
	"intake/internal/testenv"
	"intake/parser"
	"intake/store"
)

// as requests path as user with password from the client at remote
// ("" for httptest's default), with extra header fields.
func (f *fixture) as(path, user, password, remote string, header ...string) *http.Response {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec.Result()
}

// clock is a test's clock, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Users of every role, for the role and grant tests.
func roleUsers(t *testing.T) map[string]web.User {
	h := hash(t, "pw")
	return map[string]web.User{
		"vera": {PasswordHash: h, Role: web.RoleViewer},
		"ana":  {PasswordHash: h, Role: web.RoleAnalyst},
		"pia":  {PasswordHash: h, Role: web.RoleAnalyst, Grants: []string{"pii-call"}},
		"adam": {PasswordHash: h, Role: web.RoleAdmin},
	}
}

// seedPII stores an accepted submission of the call holding personal data.
func (f *fixture) seedPII() {
	f.submit(sub{call: "pii-call", receipt: "PII-1", agency: "HS", accepted: true, fileData: []byte("pii workbook"),
		records: []parser.Record{{Kind: "employees", Fields: map[string]string{"agency_code": "HS", "employee_name": "Jane Q. Employee"}}}})
}

func auditLog(t *testing.T, st *store.Store) []store.AuditEntry {
	t.Helper()
	es, err := st.AuditEntries(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// A viewer sees where each call stands and nothing of a submission; an
// analyst and an admin see submissions.
func TestRoles(t *testing.T) {
	f := newFixture(t, options{users: roleUsers(t)})
	f.seed()
	piiFile := sha256.Sum256([]byte("workbook 1"))
	analystOnly := []string{"/submissions", "/submissions/TST-1", "/submissions/TST-1/files/" + hex.EncodeToString(piiFile[:]),
		"/messages", "/export?call=test-call&format=csv", "/api/submissions", "/api/submissions/TST-1"}
	for _, p := range analystOnly {
		res := f.as(p, "vera", "pw", "")
		if b := body(t, res); res.StatusCode != http.StatusForbidden || strings.Contains(b, "TST-1") || strings.Contains(b, "calc") {
			t.Errorf("viewer: %s = %d %q, want 403 without data", p, res.StatusCode, b)
		}
		for _, u := range []string{"ana", "adam"} {
			if res := f.as(p, u, "pw", ""); res.StatusCode != http.StatusOK {
				t.Errorf("%s: %s = %d, want 200", u, p, res.StatusCode)
			}
		}
	}
	for _, p := range []string{"/", "/api/calls/test-call/status", "/static/style.css"} {
		if res := f.as(p, "vera", "pw", ""); res.StatusCode != http.StatusOK {
			t.Errorf("viewer: %s = %d, want 200", p, res.StatusCode)
		}
	}
	// The viewer's overview links to nothing it may not open.
	b := body(t, f.as("/", "vera", "pw", ""))
	for _, bad := range []string{`href="/submissions`, `href="/export`, `href="/messages`} {
		if strings.Contains(b, bad) {
			t.Errorf("viewer's overview has a link %s", bad)
		}
	}
	if !strings.Contains(b, "TST-1") || !strings.Contains(b, "vera (viewer)") {
		t.Error("viewer's overview lacks the status or who is signed in")
	}
	if b := body(t, f.as("/", "ana", "pw", "")); !strings.Contains(b, `href="/submissions/TST-1"`) || !strings.Contains(b, `href="/export?`) {
		t.Error("analyst's overview lacks the links to submissions and exports")
	}
}

// Records and files of a call holding personal data need a grant for that
// call, whatever the role; the page then says they are withheld.
func TestPIIGrants(t *testing.T) {
	f := newFixture(t, options{users: roleUsers(t)})
	f.seedPII()
	file := sha256.Sum256([]byte("pii workbook"))
	filePath := "/submissions/PII-1/files/" + hex.EncodeToString(file[:])
	for _, u := range []string{"ana", "adam"} {
		res := f.as("/submissions/PII-1", u, "pw", "")
		b := body(t, res)
		if res.StatusCode != http.StatusOK || strings.Contains(b, "Jane Q. Employee") || !strings.Contains(b, "withheld") ||
			strings.Contains(b, filePath) {
			t.Errorf("%s: PII-1 page = %d, shows the record or the file link, or does not say withheld:\n%s", u, res.StatusCode, b)
		}
		d := decode[struct {
			Records         []any
			RecordsWithheld bool `json:"records_withheld"`
			Files           []struct{ URL string }
		}](t, f.as("/api/submissions/PII-1", u, "pw", ""))
		if len(d.Records) != 0 || !d.RecordsWithheld || d.Files[0].URL != "" {
			t.Errorf("%s: PII-1 JSON = %+v, want records withheld", u, d)
		}
		for _, p := range []string{filePath, "/export?call=pii-call&format=csv", "/export?call=pii-call&format=xlsx"} {
			if res := f.as(p, u, "pw", ""); res.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %s = %d, want 403", u, p, res.StatusCode)
			}
		}
		if b := body(t, f.as("/", u, "pw", "")); strings.Contains(b, "call=pii-call&amp;format") || strings.Contains(b, "format=csv&amp;call=pii-call") {
			t.Errorf("%s: overview offers the PII call's export", u)
		}
	}
	if es := auditLog(t, f.st); len(es) != 0 {
		t.Errorf("audit entries for withheld data: %+v", es)
	}
	// Granted: everything, and each access in the audit log.
	if b := body(t, f.as("/submissions/PII-1", "pia", "pw", "")); !strings.Contains(b, "Jane Q. Employee") || strings.Contains(b, "withheld") {
		t.Error("granted analyst does not see the record")
	}
	if res := f.as(filePath, "pia", "pw", ""); res.StatusCode != http.StatusOK || body(t, res) != "pii workbook" {
		t.Errorf("granted analyst: file = %d", res.StatusCode)
	}
	if res := f.as("/export?call=pii-call&format=csv", "pia", "pw", ""); res.StatusCode != http.StatusOK || !strings.Contains(body(t, res), "Jane Q. Employee") {
		t.Errorf("granted analyst: export = %d", res.StatusCode)
	}
	es := auditLog(t, f.st)
	if len(es) != 3 {
		t.Fatalf("audit log = %+v, want 3 entries", es)
	}
	for i, want := range []struct{ action, object string }{
		{store.AuditExport, "current versions"[:0] + "all versions"},
		{store.AuditDownload, "PII-1 " + hex.EncodeToString(file[:])},
		{store.AuditView, "PII-1"},
	} {
		e := es[i] // newest first
		if e.User != "pia" || e.Via != store.AuditViaWeb || e.Action != want.action || e.Call != "pii-call" ||
			e.Object != want.object || !e.At.Equal(now) || !strings.Contains(e.Detail, "client 192.0.2.1") {
			t.Errorf("audit entry %d = %+v, want pia %s %s", i, e, want.action, want.object)
		}
	}
}

// Every view of records, download and export is in the audit log, with
// who and what; pages without records are not; and when the log cannot
// be written, no data goes out.
func TestAudit_everyAccess(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	file := sha256.Sum256([]byte("workbook 1"))
	for _, p := range []string{"/", "/submissions", "/messages", "/api/submissions", "/api/calls/test-call/status"} {
		f.get(p)
	}
	if es := auditLog(t, f.st); len(es) != 0 {
		t.Fatalf("pages without records audited: %+v", es)
	}
	accesses := []struct{ path, action, object, detail string }{
		{"/submissions/TST-1", store.AuditView, "TST-1", "2 of 2 records"},
		{"/api/submissions/TST-3", store.AuditView, "TST-3", "1 of 1 records"},
		{"/submissions/TST-1/files/" + hex.EncodeToString(file[:]), store.AuditDownload, "TST-1 " + hex.EncodeToString(file[:]), `file "report.xlsx"`},
		{"/export?call=test-call&kind=position-report&format=xlsx&current=1", store.AuditExport, "position-report current versions", "format xlsx"},
	}
	for _, a := range accesses {
		if res := f.get(a.path); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", a.path, res.StatusCode)
		}
	}
	es := auditLog(t, f.st)
	if len(es) != len(accesses) {
		t.Fatalf("audit log has %d entries, want %d: %+v", len(es), len(accesses), es)
	}
	for i, a := range accesses {
		e := es[len(es)-1-i]
		if e.User != user || e.Action != a.action || e.Call != "test-call" || e.Object != a.object || !strings.Contains(e.Detail, a.detail) {
			t.Errorf("entry for %s = %+v", a.path, e)
		}
	}
	if rep, err := f.st.VerifyAudit(context.Background()); err != nil || len(rep.Problems) != 0 || rep.Entries != 4 {
		t.Errorf("verify: %+v %v", rep, err)
	}

	// The audit log cannot be written (its table is gone): nothing is sent.
	db := openRaw(t, f)
	if _, err := db.Exec(`DROP TABLE audit`); err != nil {
		t.Fatal(err)
	}
	for _, a := range accesses {
		res := f.get(a.path)
		b := body(t, res)
		if res.StatusCode != http.StatusInternalServerError || strings.Contains(b, "calc") || strings.Contains(b, "workbook 1") ||
			strings.Contains(b, "P-1") || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s without an audit log: %d %q, want 500 and no data", a.path, res.StatusCode, b)
		}
	}
}

// The sign-in throttle: past the burst, a client, and then a user name,
// gets 429 with Retry-After, even with the right password, and its
// password is not checked; another client gets in; the wait ends.
func TestThrottle(t *testing.T) {
	c := &clock{t: now}
	f := newFixture(t, options{now: c.now, throttle: web.Throttle{ClientBurst: 3, ClientEvery: time.Minute, UserBurst: 5, UserEvery: 10 * time.Minute}})
	const a, b = "198.51.100.7:4000", "198.51.100.8:4000"
	for i := range 3 {
		if res := f.as("/", user, "guess", a); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, res.StatusCode)
		}
	}
	for _, pw := range []string{"guess", pass} {
		res := f.as("/", user, pw, a)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
			t.Errorf("4th try with %q: %d Retry-After %q, want 429 and 60", pw, res.StatusCode, res.Header.Get("Retry-After"))
		}
		if b := body(t, res); strings.Contains(b, "TST") {
			t.Errorf("a throttled answer carries data: %q", b)
		}
	}
	if res := f.as("/", user, pass, b); res.StatusCode != http.StatusOK {
		t.Errorf("another client with the password: %d, want 200", res.StatusCode)
	}
	c.add(59 * time.Second)
	if res := f.as("/", user, pass, a); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
		t.Errorf("59 s later: %d Retry-After %q, want 429 and 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	c.add(time.Second)
	if res := f.as("/", user, pass, a); res.StatusCode != http.StatusOK {
		t.Errorf("a minute later: %d, want 200", res.StatusCode)
	}

	// Per user: failures against staff from many clients (each within its
	// own burst) lock the name, for a new client even with the password;
	// a client that signed in before keeps going.
	c.add(time.Hour)
	for i := range 5 {
		if res := f.as("/", user, "guess", fmt.Sprintf("203.0.113.%d:1", i)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("user failure %d: %d", i+1, res.StatusCode)
		}
	}
	res := f.as("/", user, pass, "203.0.113.99:1")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "600" {
		t.Errorf("the name locked, a new client: %d Retry-After %q, want 429 and 600", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := f.as("/", user, pass, b); res.StatusCode != http.StatusOK {
		t.Errorf("the client signed in before: %d, want 200", res.StatusCode)
	}
	// An unknown name is throttled as a known one is: its answers tell
	// nothing of which names exist.
	for i := range 5 {
		f.as("/", "nobody", "guess", fmt.Sprintf("203.0.114.%d:1", i))
	}
	if res := f.as("/", "nobody", "guess", "203.0.114.99:1"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("unknown name after 5 failures: %d, want 429", res.StatusCode)
	}
}

// Behind a TLS proxy the client is the address the proxy appended last to
// X-Forwarded-For: a client that writes its own entries does not escape
// the throttle. Without the setting the field is ignored. Addresses of
// one IPv6 /64 count as one client.
func TestThrottle_clientAddress(t *testing.T) {
	th := web.Throttle{ClientBurst: 2, ClientEvery: time.Hour, UserBurst: 100}
	f := newFixture(t, options{throttle: th, behindProxy: true})
	const proxy = "10.0.0.1:5000"
	for i := range 2 {
		f.as("/", user, "guess", proxy, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d, 198.51.100.7", i))
	}
	res := f.as("/", user, pass, proxy, "X-Forwarded-For", "192.0.2.9", "X-Forwarded-For", "198.51.100.7")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("same client, spoofed first entries: %d, want 429", res.StatusCode)
	}
	if res := f.as("/", user, pass, proxy, "X-Forwarded-For", "198.51.100.8"); res.StatusCode != http.StatusOK {
		t.Errorf("another client through the proxy: %d, want 200", res.StatusCode)
	}
	if hsts := f.as("/", user, pass, proxy, "X-Forwarded-For", "198.51.100.8").Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Error("behind a TLS proxy: no Strict-Transport-Security")
	}

	f = newFixture(t, options{throttle: th})
	for i := range 2 {
		f.as("/", user, "guess", "198.51.100.7:1", "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	if res := f.as("/", user, pass, "198.51.100.7:1", "X-Forwarded-For", "192.0.2.50"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("no proxy, X-Forwarded-For changed: %d, want 429 (the field is not trusted)", res.StatusCode)
	}
	f.as("/", user, "guess", "[2001:db8:1:2::1]:1")
	f.as("/", user, "guess", "[2001:db8:1:2:ffff::9]:1")
	if res := f.as("/", user, pass, "[2001:db8:1:2:abcd::5]:1"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("third address of one /64: %d, want 429", res.StatusCode)
	}
	if res := f.as("/", user, pass, "[2001:db8:1:3::1]:1"); res.StatusCode != http.StatusOK {
		t.Errorf("another /64: %d, want 200", res.StatusCode)
	}
}

// The attack of the report: thousands of guesses as fast as they come,
// from one client, in parallel. Only the burst is ever checked.
func TestThrottle_guessStorm(t *testing.T) {
	f := newFixture(t, options{})
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	var checked, throttled, other atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
				req.SetBasicAuth(user, fmt.Sprintf("guess-%d-%d", w, i))
				res, err := srv.Client().Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					throttled.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// The default burst per user is 5 (per client 10): the clock is
	// fixed, so nothing refills.
	if checked.Load() != 5 || throttled.Load() != 1995 || other.Load() != 0 {
		t.Errorf("2000 guesses: %d checked, %d throttled, %d other; want 5, 1995, 0", checked.Load(), throttled.Load(), other.Load())
	}
}

// Hashes made by the programs an operator uses are accepted: htpasswd's
// bcrypt, the argon2 reference program's argon2id, HashPassword's; a
// password where a hash belongs, a missing role or a grant of an unknown
// call are refused at start.
func TestPasswordHashes(t *testing.T) {
	own, err := web.HashPassword("own secret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]web.User{"own": {PasswordHash: own, Role: web.RoleViewer}}
	htpasswd := testenv.LookPath(t, "htpasswd", "Debian package apache2-utils")
	out, err := exec.Command(htpasswd, "-nbB", "-C", "5", "htuser", "ht secret").Output()
	if err != nil {
		t.Fatal(err)
	}
	_, h, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	users["htuser"] = web.User{PasswordHash: h, Role: web.RoleViewer}
	argon := testenv.LookPath(t, "argon2", "Debian package argon2")
	cmd := exec.Command(argon, "saltsaltsalt", "-id", "-e", "-m", "12", "-t", "2", "-p", "2")
	cmd.Stdin = strings.NewReader("argon secret")
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	users["argonuser"] = web.User{PasswordHash: strings.TrimSpace(string(out)), Role: web.RoleViewer}

	f := newFixture(t, options{users: users})
	for u, pw := range map[string]string{"own": "own secret", "htuser": "ht secret", "argonuser": "argon secret"} {
		if res := f.as("/", u, pw, fmt.Sprintf("192.0.2.%d:1", len(u))); res.StatusCode != http.StatusOK {
			t.Errorf("%s (%s): %d, want 200", u, users[u].PasswordHash[:8], res.StatusCode)
		}
		if res := f.as("/", u, pw+"x", fmt.Sprintf("192.0.2.%d:1", len(u))); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", u, res.StatusCode)
		}
	}

	st, calls := f.st, f.calls
	cheap := hash(t, "x")
	for name, c := range map[string]struct {
		u    web.User
		want string
	}{
		"plain password":   {web.User{PasswordHash: "hunter2", Role: web.RoleAnalyst}, "intake hash-password"},
		"truncated bcrypt": {web.User{PasswordHash: own[:30], Role: web.RoleAnalyst}, "bcrypt"},
		"argon2i":          {web.User{PasswordHash: "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", Role: web.RoleAnalyst}, "intake hash-password"},
		"argon2id huge":    {web.User{PasswordHash: "$argon2id$v=19$m=99999999,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", Role: web.RoleAnalyst}, "out of range"},
		"no role":          {web.User{PasswordHash: cheap}, "no role"},
		"unknown grant":    {web.User{PasswordHash: cheap, Role: web.RoleAnalyst, Grants: []string{"pii-cal"}}, `grant "pii-cal" names no data call`},
	} {
		_, err := web.New(web.Options{Store: st, Calls: calls, Users: map[string]web.User{"x": c.u}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "user x") {
			t.Errorf("%s: New err = %v, want one naming user x and saying %q", name, err, c.want)
		}
	}
	for _, s := range []string{"viewer", "analyst", "admin"} {
		if r, err := web.ParseRole(s); err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := web.ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
}

// openRaw opens the fixture's store file directly, as someone with access
// to the file would.
func openRaw(t *testing.T, f *fixture) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+f.path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
