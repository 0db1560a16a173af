package parser

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// Definition is one data call: what is asked, how its mail is recognised,
// when it is due, and the shape of each attachment kind. It is loaded from
// YAML (built-ins are embedded; more come from a directory).
type Definition struct {
	ID            string   `yaml:"id"`             // stable identifier, e.g. "ses-designation-review"
	Title         string   `yaml:"title"`          // shown in replies and the dashboard
	Source        string   `yaml:"source"`         // the memo or authority that asks for the data
	ReceiptPrefix string   `yaml:"receipt_prefix"` // e.g. "SES": receipts read SES-2025-000042
	PII           bool     `yaml:"pii"`            // cell values never appear in logs or reply bodies
	Routing       Routing  `yaml:"routing"`
	Deadline      Deadline `yaml:"deadline"`
	// ExpectedAgencies lists the agency codes that must answer; empty means
	// every agency configured as a sender.
	ExpectedAgencies []string `yaml:"expected_agencies"`
	// OnePerPeriod: a submission covers one reporting period (a week for a
	// weekly cadence); a new version supersedes only the same period.
	Kinds        []Kind `yaml:"kinds"`
	Rules        []Rule `yaml:"rules"`        // cross-kind rules (e.g. a retention request names a reported position)
	Instructions string `yaml:"instructions"` // shown on the template's instructions sheet

	c *compiled // built by ParseDefinition: compiled rules, patterns, deadline
}

// Routing says how an incoming mail is matched to this call.
type Routing struct {
	Addresses       []string `yaml:"addresses"`        // recipient addresses (To/Cc/Delivered-To) that mean this call
	SubjectKeywords []string `yaml:"subject_keywords"` // any keyword in the subject (case-insensitive)
	Signature       string   `yaml:"signature"`        // template signature stored in workbooks made by `intake template`
}

// Deadline is one date, or a weekly cadence.
type Deadline struct {
	Date   string         `yaml:"date"` // YYYY-MM-DD: due by the end of that day in Zone
	Zone   string         `yaml:"zone"` // IANA zone, default America/New_York
	Weekly *WeeklyCadence `yaml:"weekly"`
}

// WeeklyCadence: one report per week, due on Weekday, from Start until Until.
type WeeklyCadence struct {
	Weekday string `yaml:"weekday"` // e.g. "Monday"
	Start   string `yaml:"start"`   // YYYY-MM-DD, first due date
	Until   string `yaml:"until"`   // YYYY-MM-DD, last due date (inclusive)
}

// Kind is one kind of attachment (or sheet) of a call, e.g. "position-report".
type Kind struct {
	ID      string   `yaml:"id"`
	Title   string   `yaml:"title"`
	Sheets  []string `yaml:"sheets"` // sheet names that carry this kind (matched loosely); header matching also detects it
	Key     []string `yaml:"key"`    // columns that identify a row across versions (for "what changed")
	Columns []Column `yaml:"columns"`
	Rules   []Rule   `yaml:"rules"` // row rules
	// MinRows is the least number of data rows a sheet of this kind must
	// have (default 1).
	MinRows int `yaml:"min_rows"`
	// Optional: a submission may leave this kind out, and a sheet of it
	// with no data rows is fine (e.g. retention requests).
	Optional bool `yaml:"optional"`
	// Period names the date column that gives a submission its reporting
	// period (weekly calls): the ISO week of that date, e.g. "2025-W10".
	Period string `yaml:"period"`
}

// Column is one column of a kind.
type Column struct {
	Key      string   `yaml:"key"`      // field name in Records, e.g. "position_number"
	Header   string   `yaml:"header"`   // official header text
	Aliases  []string `yaml:"aliases"`  // other accepted headers (matched ignoring case, spacing, punctuation)
	Type     string   `yaml:"type"`     // text, yesno, enum, date, integer, number, email
	Required bool     `yaml:"required"` // must not be blank
	Allowed  []string `yaml:"allowed"`  // enum values (matched case-insensitively, stored canonical)
	// ValueAliases maps other accepted spellings of an enum value to the
	// allowed value they mean, e.g. "N/A": "Not applicable".
	ValueAliases map[string]string `yaml:"value_aliases"`
	Pattern      string            `yaml:"pattern"`     // RE2 the (trimmed) value must match fully
	Unique       bool              `yaml:"unique"`      // no two rows of the sheet share a value
	MaxLength    int               `yaml:"max_length"`  // characters, 0 = default limit
	Min          *float64          `yaml:"min"`         // for integer and number
	Max          *float64          `yaml:"max"`         // for integer and number
	Reference    string            `yaml:"reference"`   // "agency", "subagency" or "pay-plan": checked against reference data
	Substantive  bool              `yaml:"substantive"` // free text that must say something (no placeholder)
	Description  string            `yaml:"description"` // shown in templates and fixes
	Cite         string            `yaml:"cite"`        // authority for the column's values, cited in its findings
	Example      string            `yaml:"example"`
	Width        float64           `yaml:"width"` // template column width
}

// Rule is a check over a row (When/Assert are CEL expressions over `row`)
// or, with Lookup, a check that a row names a row of another kind.
type Rule struct {
	ID       string  `yaml:"id"`
	Kind     string  `yaml:"kind"`   // for call-level rules: the kind whose rows are checked
	When     string  `yaml:"when"`   // CEL; the rule applies only where true (empty: always)
	Assert   string  `yaml:"assert"` // CEL; must be true
	Lookup   *Lookup `yaml:"lookup"`
	Column   string  `yaml:"column"`   // column the finding points at
	Severity string  `yaml:"severity"` // "error" (default) or "warning"
	Message  string  `yaml:"message"`
	Fix      string  `yaml:"fix"`
	Cite     string  `yaml:"cite"` // e.g. "5 CFR 214.401"
}

// Lookup: the rule's Column must equal the Column of some row of Kind, in
// this submission or in the agency's current stored records, where Where
// (CEL over `ref`) holds.
type Lookup struct {
	Kind   string `yaml:"kind"`
	Column string `yaml:"column"`
	Where  string `yaml:"where"`
}

// Severity of a finding: errors make a submission deficient; warnings are
// reported but the submission is accepted.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one problem in a submission, precise to the cell where it can
// be. It is data for the deficiency notice, never an error. For a call with
// PII, Message and Fix never contain a cell value.
type Finding struct {
	File     string `json:"file,omitempty"`   // attachment file name
	Sheet    string `json:"sheet,omitempty"`  // sheet name
	Row      int    `json:"row,omitempty"`    // 1-based sheet row; 0 = the whole sheet or file
	Col      int    `json:"col,omitempty"`    // 1-based column; 0 = the whole row
	Column   string `json:"column,omitempty"` // the column's official header
	Code     string `json:"code"`             // stable code, e.g. "required", "not-allowed", "bad-date"
	Severity string `json:"severity"`         // SeverityError or SeverityWarning
	Message  string `json:"message"`          // what is wrong
	Fix      string `json:"fix,omitempty"`    // what to send instead
	Cite     string `json:"cite,omitempty"`   // rule authority
}

// Cell is the spreadsheet reference of the finding ("D7"), or "" when it
// does not point at one cell.
func (f Finding) Cell() string {
	if f.Row <= 0 || f.Col <= 0 {
		return ""
	}
	return fmt.Sprintf("%s%d", ColumnName(f.Col), f.Row)
}

// ColumnName turns a 1-based column number into letters: 1 -> A, 28 -> AB.
func ColumnName(col int) string {
	var b []byte
	for col > 0 {
		col--
		b = append([]byte{byte('A' + col%26)}, b...)
		col /= 26
	}
	return string(b)
}

// Record is one data row of a submission, with its provenance.
type Record struct {
	Kind   string            `json:"kind"`
	File   string            `json:"file"`
	Sheet  string            `json:"sheet"`
	Row    int               `json:"row"`    // 1-based sheet row
	Fields map[string]string `json:"fields"` // column key -> normalised value (dates YYYY-MM-DD, Y/N, canonical enum)
}

// Input is one attachment handed to Check.
type Input struct {
	Name string // file name as sent (untrusted; already sanitised for display)
	Data []byte
	// File, when Data is nil, is where the attachment is read from (a
	// file on disk): a workbook is then read part by part and never held
	// in memory whole. Size is its length in bytes.
	File io.ReaderAt
	Size int64
}

// open returns the attachment as a ReaderAt, and its size.
func (in Input) open() (io.ReaderAt, int64) {
	if in.Data == nil && in.File != nil {
		return in.File, in.Size
	}
	return bytes.NewReader(in.Data), int64(len(in.Data))
}

// FileResult says what was made of one attachment.
type FileResult struct {
	Name   string        `json:"name"`
	SHA256 string        `json:"sha256"` // hex
	Size   int64         `json:"size"`
	Sheets []SheetResult `json:"sheets,omitempty"`
	// Reader is the workbook reader that read it: "stream", or "excelize"
	// where the streaming reader met something it does not understand.
	Reader string `json:"reader,omitempty"`
}

// SheetResult says which kind a sheet was read as and how many rows it had.
type SheetResult struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"` // "" when the sheet matched no kind (ignored)
	Rows int    `json:"rows"`           // data rows read
}

// Submission is what Check made of an email's attachments.
type Submission struct {
	Call    string       `json:"call"`
	Agency  string       `json:"agency,omitempty"` // agency code the rows name, when they agree
	Period  string       `json:"period,omitempty"` // reporting period (weekly calls), e.g. "2025-W14"
	Files   []FileResult `json:"files"`
	Records []Record     `json:"records"` // empty with CheckStream, which hands rows to its sink
	// RecordCounts is the number of records per kind (also with
	// CheckStream, where Records stays empty).
	RecordCounts map[string]int `json:"record_counts,omitempty"`
	Findings     []Finding      `json:"findings"`
}

// Deficient reports whether any finding is an error.
func (s *Submission) Deficient() bool {
	for _, f := range s.Findings {
		if f.Severity != SeverityWarning {
			return true
		}
	}
	return false
}

// Kinds are the kinds a submission speaks for: those it has rows of, and
// those whose sheet it sent empty (an empty retention sheet means "no
// retention requests now"). A new version replaces only these kinds.
func (s *Submission) Kinds() []string {
	seen := map[string]bool{}
	var kinds []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	for _, f := range s.Files {
		for _, sh := range f.Sheets {
			add(sh.Kind)
		}
	}
	for _, r := range s.Records {
		add(r.Kind)
	}
	for k := range s.RecordCounts {
		if s.RecordCounts[k] > 0 {
			add(k)
		}
	}
	return kinds
}

// Counts returns the number of records per kind.
func (s *Submission) Counts() map[string]int {
	if s.RecordCounts != nil {
		return s.RecordCounts
	}
	n := map[string]int{}
	for _, r := range s.Records {
		n[r.Kind]++
	}
	return n
}

// Limits bound what one submission may cost to read. A zero field takes
// its DefaultLimits value. Each limit hit is a finding that names it and
// says what to send instead.
type Limits struct {
	MaxFileBytes     int64 // compressed attachment size
	MaxUnzippedBytes int64 // total decompressed size of a workbook
	MaxRows          int   // data rows per sheet (empty rows do not count)
	MaxColumns       int   // columns per row
	MaxCellBytes     int   // characters per cell
	MaxSheets        int   // sheets per workbook
	// MaxCells bounds the non-empty cells of the whole submission, all
	// sheets of all files (header and unread columns included), counted
	// as they are read; empty rows and cells count for nothing.
	MaxCells int64
}

// DefaultLimits are generous for any real data call and small enough that a
// bomb cannot hurt the daemon.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:     25 << 20,
		MaxUnzippedBytes: 256 << 20,
		MaxRows:          200_000,
		MaxColumns:       16_384, // Excel's own column limit
		MaxCellBytes:     32_767, // Excel's own cell limit
		MaxSheets:        50,
		// 5 sheets of 190,000 rows of 12 columns (11.4 M cells) pass;
		// checking 20 M cells takes a few seconds in flat memory.
		MaxCells: 20_000_000,
	}
}

// Context is what Check needs beyond the files: the clock and what is
// already known about the sender.
type Context struct {
	Now    time.Time
	Agency string // agency code of the sender (from configuration), "" if unknown
	// Prior hands over the agency's current stored records of this call,
	// one kind at a time (for cross-kind rules such as a retention request
	// naming a position reported earlier); nil: none.
	Prior  PriorFunc
	Ref    *Reference // reference data; nil skips reference checks
	Limits Limits
}

// Reference is the reference data cells are checked against.
type Reference struct {
	Agencies    map[string]string // agency code (2 letters) -> name
	SubAgencies map[string]string // sub-agency code (4 chars) -> name
	PayPlans    map[string]string // pay plan code -> name
	Domains     map[string]string // federal .gov domain -> organisation name
}
