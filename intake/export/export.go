// Package export writes a data call's stored records as CSV or XLSX for
// OPM staff, streaming them from the store row by row.
//
// Every row carries its provenance first (receipt, message_id, file_name,
// file_sha256, sheet, row, agency, period, version, received_at), then the
// kind's columns in definition order, headed by their official header text.
// A hostile cell can never run as a spreadsheet formula: in CSV every
// cell, header and provenance included, is neutralised (see Neutralise);
// XLSX cells are typed (numbers and dates as real number and date cells,
// everything else as text, which a spreadsheet never evaluates), so text
// is written as it was stored, less its control characters (Clean).
//
// Exports of a call that holds PII (parser.Definition.PII) contain the
// values, because staff need them; this package never logs a value.
package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"intake/parser"
	"intake/store"
)

// Format is an export file format.
type Format string

// Formats.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// ContentType is the MIME type of the format, for HTTP responses.
func (f Format) ContentType() string {
	if f == XLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// ParseFormat reads a format name ("" means csv).
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", CSV:
		return CSV, nil
	case XLSX:
		return XLSX, nil
	}
	return "", fmt.Errorf("export: unknown format %q: want csv or xlsx", s)
}

// Options say what to export.
type Options struct {
	Call *parser.Definition // required
	// Kind is the one kind to export; "" exports every kind of the call.
	// XLSX writes one sheet per kind. CSV has one table: when it holds
	// several kinds, a "kind" column follows the provenance columns and the
	// data columns are those of every kind (in definition order, each
	// column key once), left empty where a row's kind has no such column;
	// rows come grouped by kind, in definition order. Within a kind, rows
	// come by submission, then in stored order.
	Kind string
	// CurrentOnly exports only the current accepted version of each
	// agency's submission (per period); else every stored submission,
	// superseded and deficient ones included (the version column tells
	// them apart: 0 for deficient).
	CurrentOnly bool
}

// Provenance is the header of the columns that start every row.
var provenance = []string{"receipt", "message_id", "file_name", "file_sha256", "sheet", "row", "agency", "period",
	"version", "received_at"}

// ProvenanceColumns returns the header of the columns that start every
// exported row.
func ProvenanceColumns() []string { return append([]string(nil), provenance...) }

// table is one CSV file or one XLSX sheet.
type table struct {
	title    string
	kinds    []string // kinds whose records it holds
	withKind bool     // a "kind" column follows the provenance
	keys     []string // data column keys
	header   []string
	types    []string // per column: a parser.Type* of the data columns, or a cell* type
	widths   []float64
}

// Types of the provenance columns, beside the parser.Type* of data columns.
const (
	cellText     = ""
	cellDateTime = "datetime"
)

func newTable(title string, withKind bool, kinds ...*parser.Kind) table {
	t := table{title: title, withKind: withKind}
	t.header = append(t.header, provenance...)
	for _, h := range provenance {
		w := 14.0
		switch h {
		case "row", "version":
			t.types = append(t.types, parser.TypeInteger)
		case "received_at":
			t.types = append(t.types, cellDateTime)
		default:
			t.types = append(t.types, cellText)
		}
		switch h {
		case "message_id", "file_sha256":
			w = 30
		case "file_name", "received_at":
			w = 24
		case "row", "version":
			w = 8
		}
		t.widths = append(t.widths, w)
	}
	if withKind {
		t.header = append(t.header, "kind")
		t.types = append(t.types, cellText)
		t.widths = append(t.widths, 18)
	}
	seen := map[string]bool{}
	for _, k := range kinds {
		t.kinds = append(t.kinds, k.ID)
		for _, c := range k.Columns {
			if seen[c.Key] {
				continue
			}
			seen[c.Key] = true
			t.keys = append(t.keys, c.Key)
			t.header = append(t.header, c.Header)
			t.types = append(t.types, c.Type)
			w := c.Width
			if w <= 0 {
				w = min(max(float64(len(c.Header))+2, 12), 50)
			}
			t.widths = append(t.widths, w)
		}
	}
	return t
}

// cells turns a row into the table's cells (not yet neutralised), reusing buf.
func (t *table) cells(buf []string, r store.ExportRow) []string {
	buf = append(buf[:0], r.Receipt, r.MessageID, r.FileName, r.FileSHA256, r.Sheet, strconv.Itoa(r.Row),
		r.Agency, r.Period, strconv.Itoa(r.Version), formatTime(r.ReceivedAt))
	if t.withKind {
		buf = append(buf, r.Kind)
	}
	for _, k := range t.keys {
		buf = append(buf, r.Fields[k])
	}
	return buf
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// sink is where tables go: a CSV writer or an XLSX workbook.
type sink interface {
	begin(t table) error
	row(cells []string) error
	close(w io.Writer) error
}

// Write streams the records o selects from st to w in format f and
// returns the number of data rows written. On error, w may hold a partial
// file (for XLSX nothing is written to w before every row was read).
func Write(ctx context.Context, w io.Writer, st *store.Store, f Format, o Options) (rows int, err error) {
	if st == nil {
		return 0, errors.New("export: no store")
	}
	if o.Call == nil {
		return 0, errors.New("export: no data call")
	}
	kinds := make([]*parser.Kind, 0, len(o.Call.Kinds))
	if o.Kind != "" {
		k := o.Call.Kind(o.Kind)
		if k == nil {
			return 0, fmt.Errorf("export: call %s has no kind %q", o.Call.ID, o.Kind)
		}
		kinds = append(kinds, k)
	} else {
		for i := range o.Call.Kinds {
			kinds = append(kinds, &o.Call.Kinds[i])
		}
	}

	var (
		s      sink
		tables []table
	)
	switch f {
	case CSV:
		s = &csvSink{w: bufio.NewWriter(w)}
		title := o.Call.ID
		if len(kinds) == 1 {
			title = kinds[0].ID
		}
		tables = []table{newTable(title, len(kinds) > 1, kinds...)}
	case XLSX:
		s = newXLSXSink()
		for _, k := range kinds {
			tables = append(tables, newTable(k.Title, false, k))
		}
	default:
		return 0, fmt.Errorf("export: unknown format %q: want csv or xlsx", f)
	}

	var (
		buf     []string
		sinkErr error // a write failure, told apart from the store's
	)
	for _, t := range tables {
		if err := s.begin(t); err != nil {
			return rows, err
		}
		for _, kind := range t.kinds {
			err := st.ExportRecords(ctx, o.Call.ID, kind, o.CurrentOnly, func(r store.ExportRow) error {
				buf = t.cells(buf, r)
				if err := s.row(buf); err != nil {
					sinkErr = err
					return err
				}
				rows++
				return nil
			})
			if sinkErr != nil {
				return rows, sinkErr
			}
			if err != nil {
				return rows, fmt.Errorf("export: %s %s: %w", o.Call.ID, kind, err)
			}
		}
	}
	if err := s.close(w); err != nil {
		return rows, err
	}
	return rows, nil
}

// csvSink writes one CSV table (RFC 4180). A field is quoted when it holds
// a quote, a line end, or any character some spreadsheet program takes for
// a separator (comma, semicolon, tab), so it stays one cell whichever
// separator the reader picks (a semicolon is the default where the comma
// is the decimal mark), or leading or trailing spaces, which some readers
// trim. Records end in LF: a value comes out as it was stored, less its
// control characters (Neutralise).
type csvSink struct {
	w   *bufio.Writer
	err error
}

func (c *csvSink) begin(t table) error {
	return c.row(t.header)
}

func (c *csvSink) row(cells []string) error {
	if c.err != nil {
		return c.err
	}
	for i, v := range cells {
		if i > 0 {
			c.w.WriteByte(',')
		}
		v = Neutralise(v)
		if !needsQuotes(v) {
			c.w.WriteString(v)
			continue
		}
		c.w.WriteByte('"')
		c.w.WriteString(strings.ReplaceAll(v, `"`, `""`))
		c.w.WriteByte('"')
	}
	if err := c.w.WriteByte('\n'); err != nil {
		c.err = fmt.Errorf("export: csv: %w", err)
	}
	return c.err
}

func needsQuotes(v string) bool {
	return strings.ContainsAny(v, ",;\t\"\r\n") ||
		(v != "" && (v[0] == ' ' || v[len(v)-1] == ' '))
}

func (c *csvSink) close(io.Writer) error {
	if c.err != nil {
		return c.err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	return nil
}
