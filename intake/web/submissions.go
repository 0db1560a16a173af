package web

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"intake/parser"
	"intake/parser/email"
	"intake/store"
)

// recordLimit bounds the records a detail page shows.
const recordLimit = 500

// submissionRow is one submission in a list (and in the JSON API).
type submissionRow struct {
	Receipt    string         `json:"receipt"`
	Call       string         `json:"call"`
	Agency     string         `json:"agency"`
	AgencyName string         `json:"agency_name,omitempty"`
	Period     string         `json:"period,omitempty"`
	Sender     string         `json:"sender"`
	MessageID  string         `json:"message_id"`
	Version    int            `json:"version"`
	State      string         `json:"state"` // current, superseded, deficient
	Late       bool           `json:"late"`
	ReceivedAt time.Time      `json:"received_at"`
	Records    int            `json:"records"`
	Kinds      []kindCount    `json:"kinds"` // records per kind
	Errors     int            `json:"errors"`
	Warnings   int            `json:"warnings"`
	id         int64          // the store's
	message    int64          // the stored mail's id
	kinds      map[string]int // filled by addKinds
}

// kindCount is how many records of one kind.
type kindCount struct {
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Count int    `json:"count"`
}

// submissionsView is the list page.
type submissionsView struct {
	page
	List                listState
	Call, Agency, State string          // the filter
	Calls               []string        // call ids, for the filter form
	States              []string        // states, for the filter form
	Submissions         []submissionRow `json:"submissions"`
	Truncated           bool            // more matched than this page lists
}

// submissionStates are the states a list can be filtered by: a
// submission's own, accepted (current or superseded), and latest-deficient
// (the agency's newest attempt for its call and period was not accepted).
var submissionStates = []string{"current", "superseded", "deficient", "accepted", "latest-deficient"}

// submissionSorts are the columns a submissions list sorts by.
var submissionSorts = []string{"received", "receipt", "call", "agency", "version", "state", "records", "errors"}

func (s *Server) row(x store.SubmissionSummary) submissionRow {
	return submissionRow{Receipt: x.Receipt, Call: x.Call, Agency: x.Agency, AgencyName: s.o.Agencies[x.Agency],
		Period: x.Period, Sender: x.Sender, MessageID: x.MessageID, Version: x.Version, State: x.State, Late: x.Late,
		ReceivedAt: x.ReceivedAt, Records: x.Records, Errors: x.Errors, Warnings: x.Warnings, Kinds: []kindCount{},
		id: x.ID, message: x.Message}
}

// addKinds fills the records per kind of rows, in the kinds' order.
func (s *Server) addKinds(r *http.Request, rows []submissionRow) error {
	ids := make([]int64, len(rows))
	for i, x := range rows {
		ids[i] = x.id
	}
	counts, err := s.o.Store.KindCounts(r.Context(), ids)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Kinds = kindCounts(s.o.Calls.Get(rows[i].Call), counts[rows[i].id])
	}
	return nil
}

// kindCounts orders counts by the call's kinds (unknown kinds last, by
// name), with their titles.
func kindCounts(def *parser.Definition, counts map[string]int) []kindCount {
	out := []kindCount{}
	seen := map[string]bool{}
	if def != nil {
		for _, k := range def.Kinds {
			if n, ok := counts[k.ID]; ok {
				out = append(out, kindCount{Kind: k.ID, Title: k.Title, Count: n})
				seen[k.ID] = true
			}
		}
	}
	var rest []string
	for k := range counts {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, kindCount{Kind: k, Title: k, Count: counts[k]})
	}
	return out
}

// agencyCodes are the codes of the agencies whose code is text (any case)
// or whose name holds it.
func (s *Server) agencyCodes(text string) []string {
	codes := []string{}
	t := strings.ToLower(strings.TrimSpace(text))
	for code, name := range s.o.Agencies {
		if strings.EqualFold(code, t) || (len(t) > 1 && strings.Contains(strings.ToLower(name), t)) {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	return codes
}

// recordKeys are the columns identifying rows (position numbers and the
// like) of the calls whose records the user may see: the list's search
// looks for its text there.
func (s *Server) recordKeys(r *http.Request) []string {
	var keys []string
	p := signedIn(r)
	for _, d := range s.o.Calls.All() {
		if !p.mayRecords(d.ID, d) {
			continue
		}
		for _, k := range d.Kinds {
			keys = append(keys, k.Key...)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// listSubmissions reads the filter, search, order and page from the query
// and lists.
func (s *Server) listSubmissions(r *http.Request) (submissionsView, error) {
	q := r.URL.Query()
	v := submissionsView{page: s.newPage(r, "Submissions", "submissions"),
		List: readList(r, "/submissions", submissionSorts, "received", true, "call", "agency", "state"),
		Call: q.Get("call"), Agency: strings.TrimSpace(q.Get("agency")), State: q.Get("state"), States: submissionStates}
	for _, d := range s.o.Calls.All() {
		v.Calls = append(v.Calls, d.ID)
	}
	// A filter naming nothing that exists is refused (400), not answered
	// with an empty list that looks like "nothing arrived".
	if v.State != "" && !slices.Contains(submissionStates, v.State) {
		return v, badFilter("no such state %q (want one of %s)", v.State, strings.Join(submissionStates, ", "))
	}
	if v.Call != "" && s.o.Calls.Get(v.Call) == nil {
		return v, badFilter("no data call %q (want one of %s)", v.Call, strings.Join(v.Calls, ", "))
	}
	sq := store.SubmissionQuery{Call: v.Call, State: v.State, Text: v.List.Q, RecordKeys: s.recordKeys(r),
		Sort: v.List.Sort, Desc: v.List.Desc, Limit: v.List.Per, Offset: v.List.Offset()}
	if v.State == "latest-deficient" {
		sq.State, sq.LatestOnly = "deficient", true
	}
	if v.Agency != "" {
		if sq.Agencies = s.agencyCodes(v.Agency); len(sq.Agencies) == 0 {
			return v, badFilter("no agency %q: give an agency's code or part of its name", v.Agency)
		}
	}
	if v.List.Q != "" {
		sq.AgencyCodes = s.agencyCodes(v.List.Q)
	}
	list, total, err := s.o.Store.SearchSubmissions(r.Context(), sq)
	if err != nil {
		return v, err
	}
	v.List.Total = total
	v.Truncated = total > v.List.Offset()+len(list)
	v.Submissions = make([]submissionRow, 0, len(list))
	for _, x := range list {
		v.Submissions = append(v.Submissions, s.row(x))
	}
	if err := s.addKinds(r, v.Submissions); err != nil {
		return v, err
	}
	return v, nil
}

func (s *Server) submissions(w http.ResponseWriter, r *http.Request) {
	v, err := s.listSubmissions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "submissions", v)
}

// submissionView is the detail page, and the JSON of
// /api/submissions/{receipt}.
type submissionView struct {
	page `json:"-"`
	submissionRow
	CallTitle    string          `json:"call_title,omitempty"`
	Files        []fileView      `json:"files"`
	Sheets       []sheetFindings `json:"findings"` // findings grouped by file and sheet, in stored order
	Tables       []recordTable   `json:"records"`  // records by kind
	RecordsShown int             `json:"records_shown"`
	RecordsTotal int             `json:"records_total"`
	// RecordsWithheld: the call holds personal data and the user has no
	// grant for it; records and file downloads are left out.
	RecordsWithheld bool        `json:"records_withheld,omitempty"`
	Replies         []replyView `json:"replies"`
	// Mail is the incoming mail that carried it (left out when the records
	// are withheld: its text may hold the same personal data).
	Mail *mailView `json:"mail,omitempty"`
	// Changes is what this version changed against the one before (none
	// for a first version or one not accepted; left out when withheld).
	Changes *changesView `json:"changes,omitempty"`
}

// changesView compares an accepted version with the one before.
type changesView struct {
	Previous string `json:"previous"` // its receipt
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
	Changed  int    `json:"changed"`
	// Rows are the first changeLimit changes, removed and changed first.
	Rows []changeRow `json:"rows"`
	// Kept are the kinds this version did not send: the previous
	// versions' rows of them stay in force (superseded in part).
	Kept []kindCount `json:"kept"`
}

type changeRow struct {
	Change string   `json:"change"` // added, removed, changed
	Kind   string   `json:"kind"`
	Key    string   `json:"key"`
	Row    int      `json:"row"`
	Fields []string `json:"fields"`
}

// changeLimit bounds the changes a detail page lists.
const changeLimit = 200

type fileView struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	URL    string `json:"url,omitempty"` // download link; none when withheld
}

type sheetFindings struct {
	File     string        `json:"file,omitempty"`
	Sheet    string        `json:"sheet,omitempty"`
	Findings []findingView `json:"items"`
}

type findingView struct {
	Cell     string `json:"cell,omitempty"` // "D7", or "" for a whole row or sheet
	Row      int    `json:"row,omitempty"`
	Column   string `json:"column,omitempty"`
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
	Cite     string `json:"cite,omitempty"`
}

// recordTable is the records of one kind, in the kind's column order.
type recordTable struct {
	Kind    string       `json:"kind"`
	Title   string       `json:"title"`
	Headers []string     `json:"headers"`
	Keys    []string     `json:"keys"`
	Rows    []recordView `json:"rows"`
}

type recordView struct {
	File   string   `json:"file"`
	Sheet  string   `json:"sheet"`
	Row    int      `json:"row"`
	Values []string `json:"values"` // in Keys order
}

type replyView struct {
	ID        int64     `json:"id"`
	MessageID string    `json:"message_id"`
	Kind      string    `json:"kind"`
	To        []string  `json:"to"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	Created   time.Time `json:"created"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Receipt   string    `json:"receipt,omitempty"`
	// Mail is the reply as it was (or is to be) sent: subject, text,
	// attachments.
	Mail *mailView `json:"mail,omitempty"`
}

// replyRow is a reply for a page; withMail reads its stored bytes.
func replyRow(o store.OutboxItem, withMail bool) replyView {
	v := replyView{ID: o.ID, MessageID: o.MessageID, Kind: o.Kind, To: o.To, Status: o.Status, Attempts: o.Attempts,
		Created: o.Created, SentAt: o.SentAt, LastError: o.LastError, Receipt: o.Receipt}
	if v.To == nil {
		v.To = []string{}
	}
	if withMail && len(o.Raw) > 0 {
		m := readMail(o.Raw, false)
		v.Mail = &m
	}
	return v
}

// Resendable tells whether staff may send the reply again; Releasable
// whether it is held (a dry run's) and may go out.
func (v replyView) Resendable() bool {
	return v.Status == store.OutboxSent || v.Status == store.OutboxFailed || v.Status == store.OutboxBounced
}

func (v replyView) Releasable() bool { return v.Status == store.OutboxHeld }

// changes compares an accepted version with the one before it, for the
// kinds it sent (counts: its records per kind); nil for a first version or
// one not accepted.
func (s *Server) changes(r *http.Request, def *parser.Definition, d *store.SubmissionDetail, counts map[string]int) (*changesView, error) {
	if d.Version < 2 {
		return nil, nil
	}
	prev, old, err := s.o.Store.PreviousVersion(r.Context(), d.Call, d.Agency, d.Period, d.Version, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kept := map[string]int{}
	var compared []parser.Record
	for _, rec := range old {
		if _, sent := counts[rec.Kind]; sent {
			compared = append(compared, rec)
		} else {
			kept[rec.Kind]++
		}
	}
	c := parser.Diff(def, compared, d.Records)
	v := &changesView{Previous: prev.Receipt, Added: len(c.Added), Removed: len(c.Removed), Changed: len(c.Changed),
		Rows: []changeRow{}, Kept: kindCounts(def, kept)}
	add := func(change string, rows []parser.RowChange) {
		for _, x := range rows {
			if len(v.Rows) == changeLimit {
				return
			}
			f := x.Fields
			if f == nil {
				f = []string{}
			}
			v.Rows = append(v.Rows, changeRow{Change: change, Kind: x.Kind, Key: x.Key, Row: x.Row, Fields: f})
		}
	}
	add("removed", c.Removed)
	add("changed", c.Changed)
	add("added", c.Added)
	return v, nil
}

// detail builds the detail view of the submission with that receipt. Its
// records are in it only when the user may see them, and then the view is
// first written to the audit log: when that fails, so does detail.
func (s *Server) detail(r *http.Request) (submissionView, error) {
	receipt := r.PathValue("receipt")
	d, err := s.o.Store.SubmissionByReceipt(r.Context(), receipt)
	if err != nil {
		return submissionView{}, err
	}
	v := submissionView{page: s.newPage(r, d.Receipt, "submissions"), submissionRow: s.row(d.SubmissionSummary)}
	def := s.o.Calls.Get(d.Call)
	if def != nil {
		v.CallTitle = def.Title
	}
	v.RecordsWithheld = !signedIn(r).mayRecords(d.Call, def)
	for _, f := range d.Files {
		fv := fileView{Name: f.Name, SHA256: f.SHA256, Size: f.Size}
		if !v.RecordsWithheld {
			fv.URL = "/submissions/" + url.PathEscape(d.Receipt) + "/files/" + url.PathEscape(f.SHA256)
		}
		v.Files = append(v.Files, fv)
	}
	for _, f := range d.Findings {
		if n := len(v.Sheets); n == 0 || v.Sheets[n-1].File != f.File || v.Sheets[n-1].Sheet != f.Sheet {
			v.Sheets = append(v.Sheets, sheetFindings{File: f.File, Sheet: f.Sheet})
		}
		g := &v.Sheets[len(v.Sheets)-1]
		g.Findings = append(g.Findings, findingView{Cell: f.Cell(), Row: f.Row, Column: f.Column, Code: f.Code,
			Severity: f.Severity, Message: f.Message, Fix: f.Fix, Cite: f.Cite})
	}
	v.RecordsTotal = len(d.Records)
	counts := map[string]int{}
	for _, rec := range d.Records {
		counts[rec.Kind]++
	}
	v.Kinds = kindCounts(def, counts)
	if !v.RecordsWithheld {
		v.Tables, v.RecordsShown = recordTables(def, d.Records, recordLimit)
		if v.Changes, err = s.changes(r, def, d, counts); err != nil {
			return submissionView{}, err
		}
		m, err := s.o.Store.Message(r.Context(), d.Message)
		if err != nil {
			return submissionView{}, err
		}
		mv := readMail(m.Raw, m.Truncated)
		v.Mail = &mv
		if err := s.audit(r, store.AuditView, d.Call, d.Receipt, fmt.Sprintf("%d of %d records, the mail", v.RecordsShown, v.RecordsTotal)); err != nil {
			return submissionView{}, err
		}
	}
	for _, o := range d.Replies {
		v.Replies = append(v.Replies, replyRow(o, true))
	}
	return v, nil
}

// recordTables groups the first limit records by kind, with the columns of
// the kind's definition (or, for a call no longer defined, the field keys
// found).
func recordTables(def *parser.Definition, recs []parser.Record, limit int) ([]recordTable, int) {
	var (
		tables []recordTable
		byKind = map[string]int{}
		shown  int
	)
	for _, rec := range recs {
		if shown == limit {
			break
		}
		i, ok := byKind[rec.Kind]
		if !ok {
			t := recordTable{Kind: rec.Kind, Title: rec.Kind}
			var k *parser.Kind
			if def != nil {
				k = def.Kind(rec.Kind)
			}
			if k != nil {
				t.Title = k.Title
				for _, c := range k.Columns {
					t.Keys, t.Headers = append(t.Keys, c.Key), append(t.Headers, c.Header)
				}
			} else {
				for key := range rec.Fields {
					t.Keys = append(t.Keys, key)
				}
				slices.Sort(t.Keys)
				t.Headers = t.Keys
			}
			i = len(tables)
			byKind[rec.Kind] = i
			tables = append(tables, t)
		}
		t := &tables[i]
		row := recordView{File: rec.File, Sheet: rec.Sheet, Row: rec.Row, Values: make([]string, len(t.Keys))}
		for j, key := range t.Keys {
			row.Values[j] = rec.Fields[key]
		}
		t.Rows = append(t.Rows, row)
		shown++
	}
	return tables, shown
}

func (s *Server) submission(w http.ResponseWriter, r *http.Request) {
	v, err := s.detail(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "submission", v)
}

// sha256Hex matches a SHA-256 in hex.
var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// file sends a stored attachment as a download: always
// application/octet-stream (a stored file is the sender's, never rendered
// by the browser), under its sanitised name.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	sum := r.PathValue("sha256")
	if !sha256Hex.MatchString(sum) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	receipt := r.PathValue("receipt")
	call, err := s.o.Store.SubmissionCall(r.Context(), receipt)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !signedIn(r).mayRecords(call, s.o.Calls.Get(call)) {
		s.forbidden(w, r, call)
		return
	}
	f, data, err := s.o.Store.FileData(r.Context(), receipt, sum)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.audit(r, store.AuditDownload, call, receipt+" "+strings.ToLower(f.SHA256), fmt.Sprintf("file %q", f.Name)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", attachment(email.SanitizeFilename(f.Name)))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// attachment is a Content-Disposition for a download named name (RFC 6266;
// mime encodes a non-ASCII name as RFC 2231 filename*).
func attachment(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}
