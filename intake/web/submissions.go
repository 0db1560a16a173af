package web

import (
	"bytes"
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

// listLimit bounds the submissions and messages a page lists.
const listLimit = 1000

// recordLimit bounds the records a detail page shows.
const recordLimit = 500

// submissionRow is one submission in a list (and in the JSON API).
type submissionRow struct {
	Receipt    string    `json:"receipt"`
	Call       string    `json:"call"`
	Agency     string    `json:"agency"`
	AgencyName string    `json:"agency_name,omitempty"`
	Period     string    `json:"period,omitempty"`
	Sender     string    `json:"sender"`
	MessageID  string    `json:"message_id"`
	Version    int       `json:"version"`
	State      string    `json:"state"` // current, superseded, deficient
	Late       bool      `json:"late"`
	ReceivedAt time.Time `json:"received_at"`
	Records    int       `json:"records"`
	Errors     int       `json:"errors"`
	Warnings   int       `json:"warnings"`
}

// submissionsView is the list page.
type submissionsView struct {
	page
	Call, Agency, State string          // the filter
	Calls               []string        // call ids, for the filter form
	States              []string        // states, for the filter form
	Submissions         []submissionRow `json:"submissions"`
	Truncated           bool            // more than listLimit matched
}

// submissionStates are the states a submission can be in.
var submissionStates = []string{"current", "superseded", "deficient"}

func (s *Server) row(x store.SubmissionSummary) submissionRow {
	return submissionRow{Receipt: x.Receipt, Call: x.Call, Agency: x.Agency, AgencyName: s.o.Agencies[x.Agency],
		Period: x.Period, Sender: x.Sender, MessageID: x.MessageID, Version: x.Version, State: x.State, Late: x.Late,
		ReceivedAt: x.ReceivedAt, Records: x.Records, Errors: x.Errors, Warnings: x.Warnings}
}

// listSubmissions reads the filter from the query and lists.
func (s *Server) listSubmissions(r *http.Request) (submissionsView, error) {
	q := r.URL.Query()
	v := submissionsView{page: s.newPage(r, "Submissions", "submissions"),
		Call: q.Get("call"), Agency: strings.ToUpper(q.Get("agency")), State: q.Get("state"), States: submissionStates}
	for _, d := range s.o.Calls.All() {
		v.Calls = append(v.Calls, d.ID)
	}
	if v.State != "" && !slices.Contains(submissionStates, v.State) {
		v.State = ""
	}
	list, err := s.o.Store.Submissions(r.Context(), store.ListFilter{Call: v.Call, Agency: v.Agency, State: v.State,
		Limit: listLimit + 1})
	if err != nil {
		return v, err
	}
	if len(list) > listLimit {
		list, v.Truncated = list[:listLimit], true
	}
	v.Submissions = make([]submissionRow, 0, len(list))
	for _, x := range list {
		v.Submissions = append(v.Submissions, s.row(x))
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
}

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
	MessageID string    `json:"message_id"`
	Kind      string    `json:"kind"`
	To        []string  `json:"to"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	Created   time.Time `json:"created"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
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
	if !v.RecordsWithheld {
		v.Tables, v.RecordsShown = recordTables(def, d.Records, recordLimit)
		if err := s.audit(r, store.AuditView, d.Call, d.Receipt, fmt.Sprintf("%d of %d records", v.RecordsShown, v.RecordsTotal)); err != nil {
			return submissionView{}, err
		}
	}
	for _, o := range d.Replies {
		v.Replies = append(v.Replies, replyView{MessageID: o.MessageID, Kind: o.Kind, To: o.To, Status: o.Status,
			Attempts: o.Attempts, Created: o.Created, SentAt: o.SentAt, LastError: o.LastError})
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
