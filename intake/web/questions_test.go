package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"intake/intake/web"
	"intake/store"
)

// question stores a mail from agency that asks something, as the pipeline
// stores one (its holding reply queued), and returns its number.
func (f *fixture) question(agency, call, subject, text string, at time.Time) int64 {
	f.t.Helper()
	ctx := context.Background()
	f.n++
	raw := []byte(fmt.Sprintf("Message-ID: <q%d@agency.gov>\r\nSubject: %s\r\n\r\n%s\r\n", f.n, subject, text))
	id, _, err := f.st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(f.n), SHA256: fmt.Sprint("q", f.n),
		Raw: raw, Size: int64(len(raw)), ReceivedAt: at})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.Complete(ctx, store.Completion{Message: id, Status: store.StatusQuestion, Folder: "Questions",
		From: "hr@" + strings.ToLower(agency) + ".gov", Agency: agency, Call: call, Now: at,
		Question: &store.NewQuestion{Subject: subject, Text: text, AskedAt: at},
		Reply: &store.NewReply{MessageID: fmt.Sprintf("q-reply-%d@intake.opm.gov", f.n), Kind: "question",
			From: "intake@opm.gov", To: []string{"hr@agency.gov"}, Raw: []byte("Subject: Re: " + subject + "\r\n\r\nStaff will answer.\r\n")},
	}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// Questions reach people (issue 17): an analyst finds them in the
// navigation and the needs-attention queue, reads the mail's subject and
// text, adds a note and marks the question answered; each action needs the
// page's CSRF token and is written to the audit log with the user's name.
func TestQuestions_readNoteAnswer(t *testing.T) {
	f := newFixture(t, options{users: map[string]web.User{"vera": {PasswordHash: hash(t, pass), Role: web.RoleViewer}}})
	at := time.Date(2025, 3, 20, 14, 0, 0, 0, time.UTC)
	q1 := f.question("HS", "", "SES review: vacant positions?", "Does the SES review include vacant positions?\nThanks, HR", at)
	q2 := f.question("DJ", "", "Deadline", "Is the deadline the 24th?", at.Add(time.Hour))
	ctx := context.Background()

	b := body(t, f.get("/"))
	if !strings.Contains(b, `id="questions-count">2<`) || !strings.Contains(b, `id="attention-count">2<`) {
		t.Errorf("navigation does not count two open questions:\n%s", b)
	}
	b = body(t, f.get("/attention"))
	for _, want := range []string{fmt.Sprintf(`href="/questions/%d"`, q1), "SES review: vacant positions?", "Department of Justice"} {
		if !strings.Contains(b, want) {
			t.Errorf("needs-attention queue lacks %q", want)
		}
	}
	b = body(t, f.get("/questions"))
	if i, j := strings.Index(b, fmt.Sprintf(`href="/questions/%d"`, q1)), strings.Index(b, fmt.Sprintf(`href="/questions/%d"`, q2)); i < 0 || j < i {
		t.Errorf("the list does not show both, oldest first:\n%s", b)
	}
	// Searched in the text and by agency name.
	if b := body(t, f.get("/questions?q=vacant")); !strings.Contains(b, "1–1 of 1") || !strings.Contains(b, "vacant positions?") {
		t.Errorf("search by text:\n%s", b)
	}
	if b := body(t, f.get("/questions?q=justice")); !strings.Contains(b, "1–1 of 1") || !strings.Contains(b, fmt.Sprintf(`href="/questions/%d"`, q2)) {
		t.Errorf("search by agency name:\n%s", b)
	}

	page := fmt.Sprintf("/questions/%d", q1)
	b = body(t, f.get(page))
	for _, want := range []string{"SES review: vacant positions?", "Does the SES review include vacant positions?\nThanks, HR", "hr@hs.gov",
		`href="/replies/`, "Mark answered", fmt.Sprintf(`href="/messages/%d"`, q1)} {
		if !strings.Contains(b, want) {
			t.Errorf("question page lacks %q", want)
		}
	}
	if es, _ := f.st.AuditEntries(ctx, store.AuditFilter{User: user, Action: store.AuditMail}); len(es) != 1 || es[0].Object != fmt.Sprintf("message %d", q1) {
		t.Errorf("the question's text was shown without an audit entry: %+v", es)
	}
	if b := body(t, f.get(fmt.Sprintf("/messages/%d", q1))); !strings.Contains(b, fmt.Sprintf(`href="/questions/%d"`, q1)) {
		t.Errorf("the mail's page does not link to its question")
	}

	// Refused: no token, another site, a viewer, an empty note.
	token := f.csrfOf(page, user, pass)
	note := page + "/note"
	for _, c := range []struct {
		name   string
		form   url.Values
		u      string
		header []string
		want   int
	}{
		{"no token", url.Values{"note": {"x"}}, user, nil, http.StatusForbidden},
		{"from another site", url.Values{"csrf": {token}, "note": {"x"}}, user, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"viewer", url.Values{"csrf": {f.csrfOf("/", "vera", pass)}, "note": {"x"}}, "vera", nil, http.StatusForbidden},
		{"empty note", url.Values{"csrf": {token}, "note": {"  "}}, user, nil, http.StatusBadRequest},
		{"note too long", url.Values{"csrf": {token}, "note": {strings.Repeat("x", 4001)}}, user, nil, http.StatusBadRequest},
	} {
		if res := f.post(note, c.form, c.u, pass, c.header...); res.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.want)
		}
	}
	if q, _ := f.st.Question(ctx, q1); q.Notes != "" || !q.Open() {
		t.Fatalf("a refused action changed the question: %+v", q)
	}
	if res := f.get("/questions", "vera", pass); res.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer reads the questions: %d", res.StatusCode)
	}

	// A note, then answered.
	res := f.post(note, url.Values{"csrf": {token}, "note": {"asked the policy office"}}, user, pass)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page+"?done=noted" {
		t.Fatalf("note: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res = f.post(page+"/answer", url.Values{"csrf": {token}, "note": {"answered by phone: vacant ones too"}}, user, pass)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page+"?done=answered" {
		t.Fatalf("answer: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	q, err := f.st.Question(ctx, q1)
	if err != nil || q.Open() || q.AnsweredBy != user || !strings.Contains(q.Notes, user+": asked the policy office") ||
		!strings.Contains(q.Notes, user+": answered by phone: vacant ones too") {
		t.Errorf("question after the actions: %+v, %v", q, err)
	}
	for _, action := range []string{store.AuditNote, store.AuditAnswer} {
		es, err := f.st.AuditEntries(ctx, store.AuditFilter{User: user, Action: action})
		if err != nil || len(es) != 1 || es[0].Object != fmt.Sprintf("question %d", q1) || es[0].Via != store.AuditViaWeb {
			t.Errorf("audit of %s: %+v, %v", action, es, err)
		}
	}
	b = body(t, f.get(page+"?done=answered"))
	for _, want := range []string{"The question is marked answered.", "answered by " + user, "asked the policy office"} {
		if !strings.Contains(b, want) {
			t.Errorf("answered question's page lacks %q", want)
		}
	}
	if strings.Contains(b, "Mark answered") {
		t.Error("an answered question still offers to be marked answered")
	}
	if res := f.post(page+"/answer", url.Values{"csrf": {token}}, user, pass); res.StatusCode != http.StatusConflict {
		t.Errorf("answered twice: %d, want 409", res.StatusCode)
	}
	// The queue holds the other one only; "all" lists both.
	if b := body(t, f.get("/")); !strings.Contains(b, `id="questions-count">1<`) {
		t.Error("the navigation still counts the answered question")
	}
	if b := body(t, f.get("/questions")); strings.Contains(b, fmt.Sprintf(`href="/questions/%d"`, q1)) {
		t.Error("the open questions list the answered one")
	}
	if b := body(t, f.get("/questions?state=all")); !strings.Contains(b, fmt.Sprintf(`href="/questions/%d"`, q1)) {
		t.Error("all questions lack the answered one")
	}
	if res := f.get("/questions/9999"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown question: %d", res.StatusCode)
	}
}

// A question naming a call that holds personal data is that call's mail:
// an analyst without the grant sees neither its subject nor its text, and
// cannot act on it.
func TestQuestions_piiWithheld(t *testing.T) {
	f := newFixture(t, options{})
	id := f.question("HS", "pii-call", "About employee Jane Roe", "Is Jane Roe's rating in scope?", now)
	page := fmt.Sprintf("/questions/%d", id)
	b := body(t, f.get(page))
	if strings.Contains(b, "Jane Roe") || !strings.Contains(b, "Withheld") {
		t.Errorf("question of a PII call shown without a grant:\n%s", b)
	}
	for _, p := range []string{"/questions", "/attention"} {
		if b := body(t, f.get(p)); strings.Contains(b, "Jane Roe") {
			t.Errorf("%s shows the subject of a PII call's question", p)
		}
	}
	res := f.post(page+"/note", url.Values{"csrf": {f.csrfOf("/", user, pass)}, "note": {"x"}}, user, pass)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("note on a withheld question: %d", res.StatusCode)
	}
}

// Every list answers a filter naming nothing that exists with 400 and
// says why, instead of an empty page that reads as "nothing arrived"
// (issue 17).
func TestLists_badFilter(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	for _, path := range []string{
		"/submissions?state=acepted", "/submissions?call=nope", "/submissions?agency=nobody",
		"/messages?status=lost", "/replies?status=gone", "/questions?state=closed",
	} {
		res := f.get(path)
		if b := body(t, res); res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(b, "bad request: ") {
			t.Errorf("%s: %d %q, want 400", path, res.StatusCode, b)
		}
	}
	res := f.get("/api/submissions?state=acepted")
	var e struct{ Error string }
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error, `"acepted"`) {
		t.Errorf("API: %d %+v %v", res.StatusCode, e, err)
	}
	// The filters that exist still work, and the API pages with an offset.
	for _, path := range []string{"/submissions?state=accepted", "/submissions?agency=justice", "/messages?status=question",
		"/replies?status=problem", "/questions?state=all"} {
		if res := f.get(path); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	var list struct {
		Submissions []struct{ Receipt string }
		Total       int
		Offset      int
		Truncated   bool
	}
	res = f.get("/api/submissions?sort=receipt&per=25&page=1")
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || list.Total != 3 || list.Offset != 0 || len(list.Submissions) != 3 {
		t.Errorf("API list: %+v %v", list, err)
	}
	res = f.get("/api/submissions?sort=receipt&per=25&page=2")
	list.Submissions = nil
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || list.Total != 3 || list.Offset != 25 || len(list.Submissions) != 0 {
		t.Errorf("API list, page 2: %+v %v", list, err)
	}
}
