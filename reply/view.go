package reply

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"intake/parser"
)

// The typed data the templates render. Every string here is already
// value-free for a PII call: it comes from findings (value-free by
// contract), the definition, counts, hashes and row numbers.

// common is what every message shows.
type common struct {
	Contact      string // the bot's address: where a human is reached
	FromName     string
	Organization string
	CallTitle    string
	CallID       string
	Receipt      string
	Agency       string // "Department of Homeland Security (HS)", or ""
}

type countView struct {
	Kind string // kind title
	Rows int
	Text string // "12 position report rows"
}

type fileView struct {
	Name   string
	Size   string // "12,345 bytes"
	SHA256 string
	Sheets string // "Position Report (position report, 5 rows); Notes (not read)"
}

type changeView struct {
	Kind   string // kind title
	Row    string // "HS-0002 (row 7)", or for PII "row 7 (#1a2b3c4d5e6f)"
	Fields string // changed column headers, comma-separated
}

type changesView struct {
	Previous    int
	None        bool
	NAdded      int
	NRemoved    int
	NChanged    int
	Removed     []changeView // the first maxNamedChanges
	Changed     []changeView // the first maxNamedChanges
	MoreRemoved int          // removed rows not named
	MoreChanged int          // changed rows not named
	Attached    string       // the attached list of every change, "" for none
}

type findingView struct {
	Where    string // "D7", "Row 9", "Whole sheet", "Whole file"
	Column   string
	Message  string
	Fix      string
	Cite     string
	Warning  bool
	Severity string // "Error" or "Warning"
}

type sheetGroup struct {
	Name     string
	Findings []findingView
}

type fileGroup struct {
	Name     string // file name; "" for findings about the mail itself
	Findings []findingView
	Sheets   []sheetGroup
}

type ackView struct {
	common
	Version    int
	Previous   int
	Received   string
	Due        string
	Late       bool
	Counts     []countView
	CountsText string
	Files      []fileView
	Changes    *changesView
	Warnings   []fileGroup
	NWarnings  int
	More       int // warnings not listed
}

type deficiencyView struct {
	common
	Received      string
	Due           string
	Late          bool
	NErrors       int
	NWarnings     int
	FileProblems  []findingWithFile
	Groups        []fileGroup
	More          int      // problems not listed (past maxLines lines)
	MoreWhere     string   // where every problem is listed
	Annotated     []string // names of the annotated copies attached
	NoSpreadsheet bool     // the mail carried no spreadsheet: no receipt issued
	Withheld      bool     // a PII call: workbooks with findings are not sent back
	Template      string   // file name of the blank official template attached, "" for none
}

type findingWithFile struct {
	File string
	findingView
}

func (b *Builder) common(out Outcome) common {
	c := common{
		Contact:      b.opts.From,
		FromName:     b.opts.FromName,
		Organization: b.opts.Organization,
		Receipt:      out.Receipt,
	}
	if out.Call != nil {
		c.CallTitle = out.Call.Title
		c.CallID = out.Call.ID
	}
	switch {
	case out.AgencyName != "" && out.Agency != "":
		c.Agency = out.AgencyName + " (" + out.Agency + ")"
	case out.AgencyName != "":
		c.Agency = out.AgencyName
	default:
		c.Agency = out.Agency
	}
	return c
}

// dateTime formats an instant for a reply body.
func dateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("Monday, 2 January 2006 15:04 MST")
}

// day formats a due date for a reply body, in the deadline's own zone.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("Monday, 2 January 2006")
}

// bytesText is "12,345 bytes".
func bytesText(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if n == 1 {
		return b.String() + " byte"
	}
	return b.String() + " bytes"
}

// kindTitle is the title of a kind id, or the id itself.
func kindTitle(def *parser.Definition, id string) string {
	if k := findKind(def, id); k != nil && k.Title != "" {
		return k.Title
	}
	return id
}

func findKind(def *parser.Definition, id string) *parser.Kind {
	if def == nil {
		return nil
	}
	for i := range def.Kinds {
		if def.Kinds[i].ID == id {
			return &def.Kinds[i]
		}
	}
	return nil
}

// columnHeader is the official header of a kind's column key.
func columnHeader(def *parser.Definition, kind, key string) string {
	if k := findKind(def, kind); k != nil {
		for _, c := range k.Columns {
			if c.Key == key && c.Header != "" {
				return c.Header
			}
		}
	}
	return key
}

// counts lists the rows per kind in the call's kind order.
func counts(def *parser.Definition, sub parser.Submission) []countView {
	n := sub.Counts()
	var ids []string
	if def != nil {
		for _, k := range def.Kinds {
			if _, ok := n[k.ID]; ok {
				ids = append(ids, k.ID)
			}
		}
	}
	var rest []string
	for id := range n {
		if !slices.Contains(ids, id) {
			rest = append(rest, id)
		}
	}
	slices.Sort(rest)
	var out []countView
	for _, id := range append(ids, rest...) {
		t := kindTitle(def, id)
		out = append(out, countView{Kind: t, Rows: n[id], Text: plural(n[id], t+" row", t+" rows")})
	}
	return out
}

func countsText(cs []countView) string {
	if len(cs) == 0 {
		return "no data rows"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Text
	}
	return strings.Join(parts, ", ")
}

func files(def *parser.Definition, sub parser.Submission) []fileView {
	var out []fileView
	for _, f := range sub.Files {
		var sheets []string
		for _, s := range f.Sheets {
			if s.Kind == "" {
				sheets = append(sheets, s.Name+" (not read: matched no kind of this call)")
				continue
			}
			sheets = append(sheets, fmt.Sprintf("%s (%s, %s)", s.Name, kindTitle(def, s.Kind), plural(s.Rows, "row", "rows")))
		}
		out = append(out, fileView{Name: f.Name, Size: bytesText(f.Size), SHA256: f.SHA256, Sheets: strings.Join(sheets, "; ")})
	}
	return out
}

// maxNamedChanges bounds the removed rows, and the changed rows, an
// acknowledgement names; added rows are only counted. The whole list goes
// in the attached workbook.
const maxNamedChanges = 50

// changesName is the file name of the attached list of changes.
const changesName = "changes.xlsx"

// changes is what an acknowledgement says of what changed: counts first,
// then removed and changed rows named up to maxNamedChanges each.
func changes(def *parser.Definition, c *parser.Changes, version int) *changesView {
	if c == nil {
		return nil
	}
	pii := def != nil && def.PII
	conv := func(rs []parser.RowChange, removed bool) []changeView {
		var out []changeView
		for _, r := range rs[:min(len(rs), maxNamedChanges)] {
			where := "row " + strconv.Itoa(r.Row)
			if removed {
				where += " of the previous version"
			}
			label := r.Key + " (" + where + ")"
			if pii || r.Key == "" || strings.HasPrefix(r.Key, "\x00") {
				// For a PII call the key is a hash, never a value: lead
				// with the row, which is what the reader can look up.
				label = where
				if r.Key != "" && !strings.HasPrefix(r.Key, "\x00") {
					label += " (" + r.Key + ")"
				}
			}
			var fields []string
			for _, f := range r.Fields {
				fields = append(fields, columnHeader(def, r.Kind, f))
			}
			out = append(out, changeView{Kind: kindTitle(def, r.Kind), Row: label, Fields: strings.Join(fields, ", ")})
		}
		return out
	}
	v := &changesView{
		Previous: max(version-1, 0),
		NAdded:   len(c.Added),
		NRemoved: len(c.Removed),
		NChanged: len(c.Changed),
		Removed:  conv(c.Removed, true),
		Changed:  conv(c.Changed, false),
	}
	v.MoreRemoved = v.NRemoved - len(v.Removed)
	v.MoreChanged = v.NChanged - len(v.Changed)
	v.None = v.NAdded+v.NRemoved+v.NChanged == 0
	return v
}

// namedInFull reports whether the mail names every change.
func (v *changesView) namedInFull() bool {
	return v.NAdded == 0 && v.MoreRemoved == 0 && v.MoreChanged == 0
}

// fileLevel reports whether a finding is about a whole file (or the whole
// mail) rather than a place inside a workbook.
func fileLevel(f parser.Finding) bool { return f.Sheet == "" && f.Row == 0 && f.Col == 0 }

func viewFinding(f parser.Finding) findingView {
	v := findingView{Column: f.Column, Message: f.Message, Fix: f.Fix, Cite: f.Cite,
		Warning: f.Severity == parser.SeverityWarning, Severity: "Error"}
	if v.Warning {
		v.Severity = "Warning"
	}
	switch {
	case f.Cell() != "":
		v.Where = f.Cell()
	case f.Row > 0:
		v.Where = "Row " + strconv.Itoa(f.Row)
	case f.Sheet != "":
		v.Where = "Whole sheet"
	default:
		v.Where = "Whole file"
	}
	return v
}

// maxLines bounds the finding lines of one reply: past it, a notice says
// how many problems more there are and where every one is listed.
const maxLines = 200

// maxRanges bounds the row ranges one line names.
const maxRanges = 12

// line is one line of a reply: a finding, or identical findings (same
// file, sheet, column and problem) on several rows.
type line struct {
	first   parser.Finding
	rows    []int // ascending
	sameMsg bool  // every finding of the line has first's message
}

// group orders findings by file (in the order the files were received),
// then sheet (in order of first appearance), then row and column, with the
// findings about a whole file or sheet first; it merges identical
// problems into one line naming their rows, keeps the first limit lines
// (0: all) and returns how many findings the lines left out hold.
func group(sub parser.Submission, fs []parser.Finding, limit int) ([]fileGroup, int) {
	order := map[string]int{}
	for i, f := range sub.Files {
		order[f.Name] = i
	}
	type fileSheet struct{ file, sheet string }
	first := map[string]int{}
	firstSheet := map[fileSheet]int{}
	for i, f := range fs {
		if _, ok := first[f.File]; !ok {
			first[f.File] = i
		}
		if _, ok := firstSheet[fileSheet{f.File, f.Sheet}]; !ok {
			firstSheet[fileSheet{f.File, f.Sheet}] = i
		}
	}
	rank := func(name string) int {
		if name == "" {
			return -1 // about the mail itself: first
		}
		if i, ok := order[name]; ok {
			return i
		}
		return len(order) + first[name]
	}
	sheetRank := func(f parser.Finding) int {
		if f.Sheet == "" {
			return -1 // about the whole file: first
		}
		return firstSheet[fileSheet{f.File, f.Sheet}]
	}
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(a, b parser.Finding) int {
		return cmp.Or(
			cmp.Compare(rank(a.File), rank(b.File)),
			cmp.Compare(sheetRank(a), sheetRank(b)),
			cmp.Compare(a.Row, b.Row),
			cmp.Compare(a.Col, b.Col),
		)
	})
	// Identical problems: same file, sheet, column, code, severity, fix
	// and authority. Findings about a whole sheet or file stay apart.
	type key struct {
		file, sheet, column, code, severity, fix, cite string
		col                                            int
	}
	var lines []*line
	at := map[key]*line{}
	for _, f := range sorted {
		if f.Row <= 0 {
			lines = append(lines, &line{first: f, sameMsg: true})
			continue
		}
		k := key{f.File, f.Sheet, f.Column, f.Code, f.Severity, f.Fix, f.Cite, f.Col}
		l, ok := at[k]
		if !ok {
			l = &line{first: f, sameMsg: true}
			at[k] = l
			lines = append(lines, l)
		}
		if n := len(l.rows); n == 0 || l.rows[n-1] != f.Row {
			l.rows = append(l.rows, f.Row)
		}
		l.sameMsg = l.sameMsg && f.Message == l.first.Message
	}
	more := 0
	if limit > 0 && len(lines) > limit {
		for _, l := range lines[limit:] {
			more += max(len(l.rows), 1)
		}
		lines = lines[:limit]
	}
	var out []fileGroup
	for _, l := range lines {
		f := l.first
		if len(out) == 0 || out[len(out)-1].Name != f.File {
			out = append(out, fileGroup{Name: f.File})
		}
		g := &out[len(out)-1]
		if f.Sheet == "" {
			g.Findings = append(g.Findings, viewLine(l))
			continue
		}
		i := slices.IndexFunc(g.Sheets, func(s sheetGroup) bool { return s.Name == f.Sheet })
		if i < 0 {
			g.Sheets = append(g.Sheets, sheetGroup{Name: f.Sheet})
			i = len(g.Sheets) - 1
		}
		g.Sheets[i].Findings = append(g.Sheets[i].Findings, viewLine(l))
	}
	return out, more
}

// viewLine renders a line: one finding as before, several as "Rows 2–9,
// 12 (9 rows)" with the column named.
func viewLine(l *line) findingView {
	v := viewFinding(l.first)
	if len(l.rows) <= 1 {
		return v
	}
	v.Where = "Rows " + rowRanges(l.rows) + " (" + thousands(len(l.rows)) + " rows)"
	if v.Column == "" && l.first.Col > 0 {
		v.Column = "column " + parser.ColumnName(l.first.Col)
	}
	if !l.sameMsg {
		v.Message += " (Shown for row " + thousands(l.rows[0]) + "; the other rows have the same problem with their own values.)"
	}
	return v
}

// rowRanges is "2–100,001" or "2–5, 9, 12–14", at most maxRanges ranges
// and then "and 1,234 more".
func rowRanges(rows []int) string {
	var parts []string
	left := len(rows)
	for i := 0; i < len(rows); {
		j := i
		for j+1 < len(rows) && rows[j+1] == rows[j]+1 {
			j++
		}
		if len(parts) == maxRanges {
			return strings.Join(parts, ", ") + " and " + thousands(left) + " more"
		}
		if i == j {
			parts = append(parts, thousands(rows[i]))
		} else {
			parts = append(parts, thousands(rows[i])+"–"+thousands(rows[j]))
		}
		left -= j - i + 1
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// thousands is 100001 as "100,001".
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && r != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// moreWhere says where the problems a notice leaves out are listed.
func moreWhere(annotated []string, withheld bool) string {
	switch {
	case len(annotated) > 0:
		return `Every problem is listed, with a link to its cell, on the "Issues" sheet of the attached workbook.`
	case withheld:
		return "Your workbook is not sent back, since it holds personal information, so the rest are listed nowhere by email. " +
			"The lines above name rows and columns only: correct them, check the same columns in the rest of the workbook, and send it again; " +
			"the next notice lists any problem that remains. To have the full list (rows and columns, no values), reply to this message and staff will send it."
	}
	return "Correct the problems listed, check the rest of the workbook the same way, and send it again: the next notice lists any problem that remains."
}
