package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"intake/intake/web"
	"intake/parser"
	"intake/store"
)

const (
	admin     = "boss"
	adminPass = "admin password"
)

func withAdmin(t *testing.T, o options) options {
	if o.users == nil {
		o.users = map[string]web.User{}
	}
	o.users[admin] = web.User{PasswordHash: hash(t, adminPass), Role: web.RoleAdmin}
	return o
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the CSRF token from a page the user gets.
func (f *fixture) csrfOf(path, u, p string) string {
	f.t.Helper()
	res := f.get(path, u, p)
	m := csrfField.FindStringSubmatch(body(f.t, res))
	if m == nil {
		f.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// post sends a form as user u; header adds request headers.
func (f *fixture) post(path string, form url.Values, u, p string, header ...string) *http.Response {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.SetBasicAuth(u, p)
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec.Result()
}

// held stores a mail answered by a reply held by a dry run, and returns
// the reply's outbox id.
func (f *fixture) held() int64 {
	f.t.Helper()
	ctx := context.Background()
	f.n++
	raw := []byte(fmt.Sprintf("Message-ID: <h%d@agency.gov>\r\nSubject: question\r\n\r\nbody", f.n))
	id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(f.n), SHA256: fmt.Sprint(f.n),
		Raw: raw, Size: int64(len(raw)), ReceivedAt: now})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.Complete(store.HoldReplies(ctx, "dry run"), store.Completion{Message: id, Status: store.StatusDeficient,
		Now: now, Reply: &store.NewReply{MessageID: fmt.Sprintf("held-%d@intake.opm.gov", f.n), Kind: "deficiency",
			From: "intake@opm.gov", To: []string{"hr@agency.gov"}, Raw: []byte("Subject: Re: question\r\n\r\nheld text\r\n")}}); err != nil {
		f.t.Fatal(err)
	}
	rs, _, err := f.st.SearchReplies(ctx, store.ReplyQuery{Statuses: []string{store.OutboxHeld}, Answers: id})
	if err != nil || len(rs) != 1 {
		f.t.Fatal(rs, err)
	}
	return rs[0].ID
}

func TestAction_releaseNeedsAdminCSRFAndSameOrigin(t *testing.T) {
	woken := 0
	f := newFixture(t, withAdmin(t, options{}))
	f.srv = mustServer(t, f, func(o *web.Options) { o.WakeOutbox = func() { woken++ } })
	id := f.held()
	path := fmt.Sprintf("/replies/%d/release", id)
	token := f.csrfOf(fmt.Sprintf("/replies/%d", id), admin, adminPass)
	status := func() string {
		r, err := f.st.Reply(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		u, p   string
		header []string
		want   int
	}{
		{"analyst", url.Values{"csrf": {f.csrfOf("/", user, pass)}}, user, pass, nil, http.StatusForbidden},
		{"no token", url.Values{}, admin, adminPass, nil, http.StatusForbidden},
		{"another user's token", url.Values{"csrf": {f.csrfOf("/", user, pass)}}, admin, adminPass, nil, http.StatusForbidden},
		{"from another site", url.Values{"csrf": {token}}, admin, adminPass, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"GET is no action", nil, admin, adminPass, nil, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			var res *http.Response
			if c.form == nil {
				res = f.get(path, c.u, c.p)
			} else {
				res = f.post(path, c.form, c.u, c.p, c.header...)
			}
			if res.StatusCode != c.want {
				t.Errorf("status %d, want %d", res.StatusCode, c.want)
			}
			if s := status(); s != store.OutboxHeld {
				t.Errorf("reply is %s after a refused action", s)
			}
		})
	}
	res := f.post(path, url.Values{"csrf": {token}}, admin, adminPass, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=released") {
		t.Fatalf("release: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if s := status(); s != store.OutboxQueued || woken != 1 {
		t.Errorf("after release: %s, outbox woken %d times", s, woken)
	}
	// Twice is a conflict, and the entry of the first says who did it.
	if res := f.post(path, url.Values{"csrf": {token}}, admin, adminPass); res.StatusCode != http.StatusConflict {
		t.Errorf("second release: %d", res.StatusCode)
	}
	es, err := f.st.AuditEntries(context.Background(), store.AuditFilter{Action: store.AuditRelease})
	if err != nil || len(es) != 1 || es[0].User != admin || !strings.Contains(es[0].Object, fmt.Sprintf("reply %d", id)) {
		t.Fatalf("audit: %+v %v", es, err)
	}
	// A sent reply may be sent again; the page offers it to an admin only.
	page := body(t, f.get(fmt.Sprintf("/replies/%d", id), admin, adminPass))
	if strings.Contains(page, "/release") || strings.Contains(page, "/resend") {
		t.Errorf("a queued reply offers an action:\n%s", page)
	}
}

// mustServer rebuilds f's server with changed options.
func mustServer(t *testing.T, f *fixture, change func(*web.Options)) *web.Server {
	t.Helper()
	o := web.Options{Store: f.st, Calls: f.calls, Now: func() time.Time { return now },
		Users: map[string]web.User{user: {PasswordHash: hash(t, pass), Role: web.RoleAnalyst},
			admin: {PasswordHash: hash(t, adminPass), Role: web.RoleAdmin}},
		Agencies: map[string]string{"HS": "Department of Homeland Security", "DJ": "Department of Justice", "TR": "Department of the Treasury"}}
	change(&o)
	srv, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestAction_replay(t *testing.T) {
	f := newFixture(t, withAdmin(t, options{}))
	ctx := context.Background()
	raw := []byte("Message-ID: <q@agency.gov>\r\nSubject: broken\r\n\r\nbody")
	id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 99, SHA256: "x", Raw: raw,
		Size: int64(len(raw)), ReceivedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.FailAttempt(ctx, id, "gave up after 3 attempts", "Quarantine", now); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/messages/%d/replay", id)
	token := f.csrfOf(fmt.Sprintf("/messages/%d", id), admin, adminPass)
	// Without a daemon (intake serve) there is no replay.
	if res := f.post(path, url.Values{"csrf": {token}}, admin, adminPass); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("replay without a daemon: %d", res.StatusCode)
	}
	var replayed []int64
	f.srv = mustServer(t, f, func(o *web.Options) {
		o.Replay = func(_ context.Context, id int64) error { replayed = append(replayed, id); return nil }
	})
	token = f.csrfOf(fmt.Sprintf("/messages/%d", id), admin, adminPass)
	page := body(t, f.get(fmt.Sprintf("/messages/%d", id), admin, adminPass))
	if !strings.Contains(page, `action="/messages/`+fmt.Sprint(id)+`/replay"`) || !strings.Contains(page, "Subject</dt><dd>broken") {
		t.Errorf("the mail's page offers no replay or shows no subject:\n%s", page)
	}
	res := f.post(path, url.Values{"csrf": {token}}, admin, adminPass)
	if res.StatusCode != http.StatusSeeOther || len(replayed) != 1 || replayed[0] != id {
		t.Fatalf("replay: %d, replayed %v", res.StatusCode, replayed)
	}
	es, _ := f.st.AuditEntries(ctx, store.AuditFilter{Action: store.AuditReplay})
	if len(es) != 1 || es[0].User != admin {
		t.Errorf("audit: %+v", es)
	}
	// Mail already answered with a receipt is not replayed.
	f.seed()
	ms, _, _ := f.st.SearchMessages(ctx, store.MessageQuery{Text: "TST-1"})
	if res := f.post(fmt.Sprintf("/messages/%d/replay", ms[0].ID), url.Values{"csrf": {token}}, admin, adminPass); res.StatusCode != http.StatusConflict {
		t.Errorf("replay of answered mail: %d", res.StatusCode)
	}
}

// TestLists_searchSortPages: 127 submissions, listed 25 a page.
func TestLists_searchSortPages(t *testing.T) {
	f := newFixture(t, options{})
	agencies := []string{"HS", "DJ", "TR"}
	for i := range 127 {
		a := agencies[i%3]
		f.submit(sub{receipt: fmt.Sprintf("TST-%03d", i), agency: a, accepted: i%5 != 0,
			fileName: fmt.Sprintf("file-%03d.xlsx", i), records: []parser.Record{pos(a, fmt.Sprintf("POS-%03d", i), "")}})
	}
	rows := regexp.MustCompile(`<a href="/submissions/(TST-\d+)">`)
	list := func(q string) ([]string, string) {
		t.Helper()
		b := body(t, f.get("/submissions?"+q))
		var out []string
		for _, m := range rows.FindAllStringSubmatch(b, -1) {
			out = append(out, m[1])
		}
		return out, b
	}
	got, b := list("per=25")
	if len(got) != 25 || got[0] != "TST-126" || !strings.Contains(b, "1–25 of 127") || !strings.Contains(b, "Page 1 of 6") {
		t.Fatalf("first page: %v", got)
	}
	got, b = list("per=25&page=6")
	if len(got) != 2 || got[1] != "TST-000" || !strings.Contains(b, "126–127 of 127") {
		t.Fatalf("last page: %v", got)
	}
	got, _ = list("sort=receipt&per=25")
	if got[0] != "TST-000" || got[24] != "TST-024" {
		t.Errorf("by receipt: %v", got)
	}
	for q, want := range map[string][]string{
		"q=tst-042":                             {"TST-042"},
		"q=file-043":                            {"TST-043"},
		"q=pos-044":                             {"TST-044"},
		"q=treasury&sort=receipt&per=25":        {"TST-002", "TST-005"},
		"agency=justice&state=deficient&per=25": {"TST-115", "TST-100"},
		"agency=nothing":                        nil,
	} {
		got, _ := list(q)
		if len(got) > len(want) {
			got = got[:len(want)]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v first", q, got, want)
		}
	}
	// The mail list pages the same way.
	b = body(t, f.get("/messages?per=25&page=2"))
	if !strings.Contains(b, "26–50 of 127") {
		t.Errorf("mail, second page: %s", b)
	}
	// The navigation counts what needs attention: of each agency's latest
	// submission (TST-126, -125, -124), DJ's is deficient.
	b = body(t, f.get("/attention"))
	if !strings.Contains(b, `id="attention-count">1<`) || !strings.Contains(b, `href="/submissions/TST-125"`) {
		t.Errorf("attention:\n%s", b)
	}
}

func TestCallPage_chartAndTotals(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	b := body(t, f.get("/calls/test-call"))
	for _, want := range []string{
		`role="img"`, `class="series-accepted"`, `class="series-deficient"`, `class="series-missing"`, "Deadline 24 Mar",
		// HS and DJ accepted, TR missing, by now (two days after the deadline).
		"Of 3 expected agencies, on 26 Mar 2025 11:00 EDT: 2 accepted, 0 deficient, 1 missing.",
		// At the deadline DJ had not yet sent (it came on 25 March).
		"At the deadline: 1 accepted, 0 deficient, 2 missing.",
		`<strong id="total-expected">3</strong>`, "3</strong> Position report in force",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("call page lacks %q", want)
		}
	}
	if strings.Contains(b, "<script") {
		t.Error("the chart needs no script")
	}
	// Agencies searched by name.
	b = body(t, f.get("/calls/test-call?q=justice"))
	if !strings.Contains(b, "1–1 of 1") || !strings.Contains(b, "Department of Justice") {
		t.Errorf("agency search: %s", b)
	}
	if res := f.get("/calls/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown call: %d", res.StatusCode)
	}
}

func TestSubmissionPage_mailReplyAndChanges(t *testing.T) {
	f := newFixture(t, options{})
	f.submit(sub{receipt: "TST-1", agency: "HS", accepted: true,
		records: []parser.Record{pos("HS", "P-1", "a"), pos("HS", "P-2", "b")}})
	f.submit(sub{receipt: "TST-2", agency: "HS", accepted: true,
		records: []parser.Record{pos("HS", "P-1", "changed"), pos("HS", "P-3", "new")}})
	b := body(t, f.get("/submissions/TST-2"))
	for _, want := range []string{
		"What changed from the previous version", `href="/submissions/TST-1"`, "1 row added, 1 removed, 1 changed.",
		`<td class="change-removed">removed</td><td>position-report</td><td class="mono">P-2</td>`,
		`<td class="change-changed">changed</td><td>position-report</td><td class="mono">P-1</td><td>2</td><td>notes</td>`,
		"The mail as received", "<pre class=\"mailtext\">body</pre>",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	if strings.Contains(body(t, f.get("/submissions/TST-1")), "What changed") {
		t.Error("a first version shows changes")
	}
}
