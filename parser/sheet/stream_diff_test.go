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
		if anyType && w.Type == sheet.Number && !w.Date {
			w.Type = g.Type
		}
		if valuesOnly {
			w.Type, w.Date = g.Type, g.Date
			if _, err := strconv.ParseFloat(w.Value, 64); g.Date && err != nil {
				continue // an ISO date (t="d") excelize could not type
			}
		}
		if w != g {
			return fmt.Sprintf("row %d: cell %+v, want %+v", want.Num, g, w)
		}
		wt, wok := w.Time(date1904)
		gt, gok := g.Time(date1904)
		if wok != gok || !wt.Equal(gt) {
			return fmt.Sprintf("row %d col %d: time %v, want %v", want.Num, w.Col, gt, wt)
		}
	}
	return ""
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
// zip without a workbook part is not a workbook, a limit is a limit, and
// a corrupted zip entry is corrupted (excelize ignores the checksum).
func refusedOnPurpose(err error) bool {
	return errors.Is(err, sheet.ErrDoctype) || errors.Is(err, sheet.ErrNotXLSX) || errors.Is(err, sheet.ErrTooLarge) ||
		errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, flate.CorruptInputError(0))
}

// compareReaders reads data with both readers and returns a disagreement,
// or "" (with a note on a fallback).
func compareReaders(data []byte, lim sheet.Limits, anyType bool) (disagreement, fallback string) {
	st, stErr := sheet.OpenStream(data, lim)
	want, exErr := oracle(data, lim)
	if errors.Is(stErr, sheet.ErrUnsupported) {
		// Open must then read it with excelize and give excelize's result.
		w, err := sheet.Open(data, lim)
		if exErr != nil {
			return "", "open: " + stErr.Error()
		}
		if err != nil {
			return fmt.Sprintf("Open after fallback: %v", err), ""
		}
		defer w.Close()
		got := readAll(w)
		if got.reader != "excelize" {
			return fmt.Sprintf("Reader() = %q after a fallback", got.reader), ""
		}
		return diffBooks(want, got), "open: " + stErr.Error()
	}
	if stErr != nil {
		if exErr == nil && !refusedOnPurpose(stErr) {
			return fmt.Sprintf("stream refused a file excelize reads: %v", stErr), ""
		}
		return "", ""
	}
	defer st.Close()
	got := readAll(st)
	if exErr != nil {
		return "", "" // no oracle; reading it without a panic is the test
	}
	for name, err := range got.errs {
		if refusedOnPurpose(err) && want.errs[name] == nil {
			// A limit hit mid-sheet: compare the rows before it only.
			delete(got.errs, name)
			if n := len(got.rows[name]); n < len(want.rows[name]) {
				want.rows[name] = want.rows[name][:n]
			}
		}
	}
	if got.reader != "stream" {
		fallback = "mid-sheet fallback"
	}
	return diffBooksRule(want, got, anyType), fallback
}

// TestStreamMatchesExcelize_corpus is the differential test of issue 9:
// every workbook of the shared corpus that excelize opens gives the same
// sheets, row numbers and raw cell values from both readers, or falls
// back to excelize (logged with its reason).
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
	fallbacks := 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		_, blind := oracleTypeBlind[filepath.ToSlash(rel)]
		d, fb := compareReaders(data, lim, blind)
		if d != "" {
			t.Errorf("%s: %s", rel, d)
		}
		if fb != "" {
			fallbacks++
			t.Logf("fallback %s: %s", rel, fb)
		}
	}
	t.Logf("%d files, %d fell back to excelize", len(files), fallbacks)
}
