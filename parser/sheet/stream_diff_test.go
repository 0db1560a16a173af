package sheet_test

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"intake/internal/testenv"
	"intake/parser/sheet"
)

// book is everything a reader gives for a workbook, for comparison.
type book struct {
	sheets   []string
	date1904 bool
	rows     map[string][]sheet.Row
	errs     map[string]error // a sheet whose rows ended in an error
	reader   string
}

// readAll reads every row of every sheet.
func readAll(w sheet.Workbook) *book {
	b := &book{sheets: w.Sheets(), date1904: w.Date1904(), rows: map[string][]sheet.Row{}, errs: map[string]error{}}
	for _, name := range b.sheets {
		rows, err := w.Rows(name)
		if err != nil {
			b.errs[name] = err
			continue
		}
		for rows.Next() {
			b.rows[name] = append(b.rows[name], rows.Row())
		}
		if err := rows.Err(); err != nil {
			b.errs[name] = err
		}
		rows.Close()
	}
	b.reader = w.Reader()
	return b
}

// oracle reads a workbook with excelize; a panic inside excelize is its
// own failure, reported as an error, not ours.
func oracle(data []byte, lim sheet.Limits) (b *book, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("excelize panicked: %v", p)
		}
	}()
	w, err := sheet.OpenExcelize(data, lim)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	return readAll(w), nil
}

// diffBooks returns the first difference between two readings, or "".
// The comparison rule: same sheets in the same order, same date system,
// and per sheet the same row numbers and per row the same cells (column,
// type, raw value, date flag; date cells also compared as times). Where
// excelize's reading of a sheet ends in an error, the rows it gave must
// begin ours. Where the stream reader handed a sheet to excelize midway
// (a malformed part: excelize then cannot load its worksheet model, and
// its adapter loses cell types), only row numbers, columns and values are
// compared.
func diffBooks(want, got *book) string { return diffBooksRule(want, got, false) }

// diffBooksRule is diffBooks; with anyType a cell excelize calls a plain
// number may have another type (see oracleTypeBlind).
func diffBooksRule(want, got *book, anyType bool) string {
	if strings.Join(want.sheets, "\x00") != strings.Join(got.sheets, "\x00") {
		return fmt.Sprintf("sheets %q, want %q", got.sheets, want.sheets)
	}
	if want.date1904 != got.date1904 {
		return fmt.Sprintf("date1904 %v, want %v", got.date1904, want.date1904)
	}
	for _, name := range want.sheets {
		if (want.errs[name] == nil) != (got.errs[name] == nil) {
			return fmt.Sprintf("sheet %q: error %v, want %v", name, got.errs[name], want.errs[name])
		}
		wr, gr := want.rows[name], got.rows[name]
		if want.errs[name] != nil && len(gr) > len(wr) {
			// excelize stopped at an error; it may lose the row before
			// it (Columns reads on into the bad row): compare its rows.
			gr = gr[:len(wr)]
		}
		for i := 0; i < len(wr) || i < len(gr); i++ {
			if i >= len(wr) || i >= len(gr) {
				return fmt.Sprintf("sheet %q: %d rows, want %d", name, len(gr), len(wr))
			}
			if d := diffRow(wr[i], gr[i], want.date1904, anyType, got.reader != "stream"); d != "" {
				return fmt.Sprintf("sheet %q: %s", name, d)
			}
		}
	}
	return ""
}

func diffRow(want, got sheet.Row, date1904, anyType, valuesOnly bool) string {
	if want.Num != got.Num {
		return fmt.Sprintf("row number %d, want %d", got.Num, want.Num)
	}
	if len(want.Cells) != len(got.Cells) {
		return fmt.Sprintf("row %d: cells %v, want %v", want.Num, got.Cells, want.Cells)
	}
	for j, w := range want.Cells {
		g := got.Cells[j]
		anyFormat := false
		if anyType && w.Type == sheet.Number && !w.Date {
			w.Type = g.Type
			anyFormat = w.Format() == "General" // the style is as unseen as the type
		}
		if valuesOnly {
			// Values only: the adapter lost the sheet's styles with its
			// types, so it has no number format to compare either.
			w.Type, w.Date = g.Type, g.Date
			anyFormat = true
			if _, err := strconv.ParseFloat(w.Value, 64); g.Date && err != nil {
				continue // an ISO date (t="d") excelize could not type
			}
		}
		if w.Type == sheet.String && g.Type == sheet.String && astralEscapes(w.Value, g.Value) {
			w.Value = g.Value
		}
		if !sameCell(w, g, anyFormat) {
			return fmt.Sprintf("row %d: cell %s, want %s", want.Num, cellString(g), cellString(w))
		}
		wt, wok := w.Time(date1904)
		gt, gok := g.Time(date1904)
		if wok != gok || !wt.Equal(gt) {
			return fmt.Sprintf("row %d col %d: time %v, want %v", want.Num, w.Col, gt, wt)
		}
	}
	return ""
}

// astralEscapes reports the one way the stream reader's string differs
// from excelize's on purpose (issue 15): a character beyond the Basic
// Multilingual Plane written as a pair of _xHHHH_ escapes, which excelize
// drops and the stream reader decodes. Without such characters the two
// strings are the same, and the stream reader's has more of them.
func astralEscapes(excelize, stream string) bool {
	drop := func(s string) (string, int) {
		n := 0
		return strings.Map(func(r rune) rune {
			if r > 0xFFFF {
				n++
				return -1
			}
			return r
		}, s), n
	}
	e, ne := drop(excelize)
	s, ns := drop(stream)
	return e == s && ns > ne
}

// sameCell compares what two readers give for a cell: column, type, raw
// value, date flag and number format (unless anyFormat).
func sameCell(w, g sheet.Cell, anyFormat bool) bool {
	return w.Col == g.Col && w.Type == g.Type && w.Value == g.Value && w.Date == g.Date &&
		(anyFormat || w.Format() == g.Format())
}

func cellString(c sheet.Cell) string {
	return fmt.Sprintf("{Col:%d Type:%v Value:%q Date:%v Format:%q}", c.Col, c.Type, c.Value, c.Date, c.Format())
}

// oracleTypeBlind are corpus files where the excelize adapter cannot see
// cell types: it asks excelize's worksheet model (GetCellType), which
// finds no cell under a lower-case reference ("a1") and fails to load a
// worksheet with an out-of-range row elsewhere; it then calls every cell a
// number (a shared string "A1" becomes the number "A1"). The streaming
// reader reads the t attribute itself and is right; for these files the
// types of cells excelize calls plain numbers are not compared.
var oracleTypeBlind = map[string]string{
	"exceldatareader/LowerCaseReferenceAttribute.xlsx":                                   "lower-case cell references",
	"poi/spreadsheet/clusterfuzz-testcase-minimized-POIXSSFFuzzer-5937385319563264.xlsx": "worksheet model fails to load",
}

// refusedOnPurpose are the stream reader's errors that are right even
// where excelize reads the file: declarations are refused (issue 9), a
// limit is a limit, and a corrupted zip entry is corrupted (excelize
// ignores the checksum). ErrNotXLSX is not one of them: where the stream
// reader finds no workbook in a zip that excelize opens, Open reads the
// file with excelize.
func refusedOnPurpose(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, sheet.ErrDoctype) || errors.Is(err, sheet.ErrTooLarge) ||
		errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.As(err, &corrupt)
}

// comparison is what compare found for one file.
type comparison struct {
	disagreement string // how the readers disagree; "" when they agree
	oracle       bool   // excelize opened the file
	fallback     string // why Open read the file, or a sheet of it, with excelize; "" when it did not
	midSheet     bool   // the fallback came in the middle of a sheet
	refused      error  // the stream reader's refusal, on purpose, of a file excelize opens
}

// compare reads data with both readers, and with Open where the stream
// reader hands the file to excelize.
func compare(data []byte, lim sheet.Limits, anyType bool) (c comparison) {
	st, stErr := sheet.OpenStream(data, lim)
	want, exErr := oracle(data, lim)
	c.oracle = exErr == nil
	if errors.Is(stErr, sheet.ErrUnsupported) || errors.Is(stErr, sheet.ErrNotXLSX) {
		// Open must then read it with excelize and give excelize's
		// result, or refuse it only where excelize cannot open it either.
		w, err := sheet.Open(data, lim)
		if exErr != nil {
			if err == nil {
				w.Close()
			}
			return c // no oracle; opening it without a panic is the test
		}
		c.fallback = "open: " + stErr.Error()
		if err != nil {
			c.disagreement = fmt.Sprintf("Open refused a file excelize opens: %v (stream: %v)", err, stErr)
			return c
		}
		defer w.Close()
		got := readAll(w)
		if got.reader != "excelize" {
			c.disagreement = fmt.Sprintf("Reader() = %q after a fallback", got.reader)
			return c
		}
		c.disagreement = diffBooks(want, got)
		return c
	}
	if stErr != nil {
		if exErr != nil {
			return c // neither reads it
		}
		if !refusedOnPurpose(stErr) {
			c.disagreement = fmt.Sprintf("stream refused a file excelize reads: %v", stErr)
			return c
		}
		c.refused = stErr
		if w, err := sheet.Open(data, lim); err == nil {
			w.Close()
			c.disagreement = fmt.Sprintf("Open read a file the stream reader refuses (%v)", stErr)
		}
		return c
	}
	defer st.Close()
	got := readAll(st)
	if exErr != nil {
		return c // no oracle; reading it without a panic is the test
	}
	for name, err := range got.errs {
		if refusedOnPurpose(err) && want.errs[name] == nil {
			// A limit hit mid-sheet: compare the rows before it only.
			c.refused = err
			delete(got.errs, name)
			if n := len(got.rows[name]); n < len(want.rows[name]) {
				want.rows[name] = want.rows[name][:n]
			}
		}
	}
	if got.reader != "stream" {
		c.fallback, c.midSheet = "mid-sheet fallback", true
	}
	c.disagreement = diffBooksRule(want, got, anyType)
	return c
}

// compareReaders is compare for tests that want no fallback and no
// refusal: it returns the disagreement, and a note on a fallback or a
// refusal ("" when the stream reader read the whole file and agreed).
func compareReaders(data []byte, lim sheet.Limits, anyType bool) (disagreement, note string) {
	c := compare(data, lim, anyType)
	note = c.fallback
	if c.refused != nil {
		note = "refused: " + c.refused.Error()
	}
	return c.disagreement, note
}

// Reasons shared by several files of the tables below.
const (
	nonDefaultPath = "styles or shared strings at a non-default path (excelize reads only the default paths; the stream reader defers to it so both agree)"
	doctype        = "a DOCTYPE with entity declarations (refused, never expanded: issue 9)"
)

// corpusFallbacks are the corpus files, all opened by excelize, that Open
// reads with excelize, each with the construct that sends it there ("mid-
// sheet:" where the stream reader hands over in the middle of a sheet).
// It is the fallback table of README.md, word for word
// (TestCorpusTables_matchReadme); TestStreamMatchesExcelize_corpus fails
// on a fallback not listed here, and on a file listed here that no longer
// falls back.
var corpusFallbacks = map[string]string{
	"calamine/minimal_package.xlsx":                                                      nonDefaultPath,
	"exceldatareader/Test_git_issue_629.xlsx":                                            nonDefaultPath,
	"sheetjs/wtf_path.xlsx":                                                              nonDefaultPath,
	"poi/spreadsheet/duplicate-filename.xlsx":                                            "two zip entries with one name",
	"calamine/empty_s_attribute.xlsx":                                                    "mid-sheet: `s=\"\"`",
	"exceldatareader/Fillreport.xlsx":                                                    "mid-sheet: cell `r=\"0\"`",
	"exceldatareader/Test_git_issue_324.xlsx":                                            "mid-sheet: a repeated row number",
	"openpyxl-2015/reader/tests/data/bug304.xlsx":                                        "mid-sheet: `<autoFilter>` inside sheetData",
	"poi/spreadsheet/clusterfuzz-testcase-minimized-POIXSSFFuzzer-5937385319563264.xlsx": "mid-sheet: row number beyond Excel's",
}

// corpusRefusals are the corpus files excelize opens that the stream
// reader refuses, on purpose (refusedOnPurpose), and so does Open: the
// refusal table of README.md, word for word. A refusal not listed here
// fails TestStreamMatchesExcelize_corpus, as does a listed file that is
// no longer refused.
var corpusRefusals = map[string]string{
	"poi/spreadsheet/54764.xlsx":                                                         doctype,
	"poi/spreadsheet/54764-2.xlsx":                                                       doctype,
	"poi/spreadsheet/poc-xmlbomb.xlsx":                                                   doctype,
	"poi/spreadsheet/poc-xmlbomb-empty.xlsx":                                             doctype,
	"poi/spreadsheet/poc-shared-strings.xlsx":                                            "a shared string longer than `MaxCellBytes` (Excel's own bound is 32,767 characters)",
	"poi/spreadsheet/clusterfuzz-testcase-minimized-POIXSSFFuzzer-5265527465181184.xlsx": "a zip entry that fails its checksum (excelize does not check it)",
}

// TestStreamMatchesExcelize_corpus is the differential test of issue 9:
// every workbook of the shared corpus that excelize opens gives the same
// sheets, row numbers and raw cell values from both readers, or is a
// documented fallback (corpusFallbacks) or a documented refusal
// (corpusRefusals).
func TestStreamMatchesExcelize_corpus(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		testenv.Missing(t, "the xlsx corpus")
	}
	sort.Strings(files)
	lim := sheet.DefaultLimits()
	seen := map[string]bool{}
	fallbacks, refusals := 0, 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		_, blind := oracleTypeBlind[rel]
		c := compare(data, lim, blind)
		if c.disagreement != "" {
			t.Errorf("%s: %s", rel, c.disagreement)
		}
		reason, documented := corpusFallbacks[rel]
		switch {
		case c.fallback != "" && !documented:
			t.Errorf("%s: falls back to excelize (%s), not documented in corpusFallbacks and README.md", rel, c.fallback)
		case c.fallback == "" && documented:
			t.Errorf("%s: documented as a fallback (%s), but Open no longer reads it with excelize", rel, reason)
		case documented && strings.HasPrefix(reason, "mid-sheet:") != c.midSheet:
			t.Errorf("%s: documented as %q, but the fallback is %s", rel, reason, c.fallback)
		}
		if c.fallback != "" {
			fallbacks++
		}
		reason, documented = corpusRefusals[rel]
		switch {
		case c.refused != nil && !documented:
			t.Errorf("%s: excelize opens it, the stream reader refuses it (%v); not documented in corpusRefusals and README.md", rel, c.refused)
		case c.refused == nil && documented:
			t.Errorf("%s: documented as refused (%s), but is no longer refused", rel, reason)
		}
		if c.refused != nil {
			refusals++
		}
	}
	for _, list := range []map[string]string{corpusFallbacks, corpusRefusals} {
		for rel := range list {
			if !seen[rel] {
				t.Errorf("%s: documented, but not in the corpus", rel)
			}
		}
	}
	t.Logf("%d files: %d fell back to excelize, %d refused on purpose", len(files), fallbacks, refusals)
}

// TestCorpusTables_matchReadme: the fallback and refusal tables of
// README.md list the files of corpusFallbacks and corpusRefusals, with
// the same reasons, so the documentation cannot drift from the test.
func TestCorpusTables_matchReadme(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header string
		want   map[string]string
		count  string // the sentence that counts the files
	}{
		{"| corpus file | fallback reason |", corpusFallbacks, "%d files fall back to excelize"},
		{"| corpus file | refused because |", corpusRefusals, "%d files that excelize opens are refused on purpose"},
	} {
		if count := fmt.Sprintf(tc.count, len(tc.want)); !strings.Contains(string(readme), count) {
			t.Errorf("README.md does not say %q", count)
		}
		got := readmeTable(t, string(readme), tc.header)
		for file, reason := range tc.want {
			if got[file] != reason {
				t.Errorf("README.md table %q: %s has %q, the test %q", tc.header, file, got[file], reason)
			}
		}
		for file := range got {
			if _, ok := tc.want[file]; !ok {
				t.Errorf("README.md table %q lists %s, the test does not", tc.header, file)
			}
		}
	}
}

// readmeTable reads the table under a header line: each row names one or
// more files in backquotes, then the reason.
func readmeTable(t *testing.T, readme, header string) map[string]string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, header+"\n")
	if !ok {
		t.Fatalf("README.md has no table %q", header)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if strings.HasPrefix(line, "|---") {
			continue
		}
		files, reason, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"), " | ")
		if !ok {
			t.Fatalf("README.md: a table row without a reason: %s", line)
		}
		for _, f := range strings.Split(files, ", ") {
			name, ok := strings.CutPrefix(f, "`")
			name, ok2 := strings.CutSuffix(name, "`")
			if !ok || !ok2 {
				t.Fatalf("README.md: %q is not a file name in backquotes: %s", f, line)
			}
			rows[name] = reason
		}
	}
	return rows
}
