package sheet_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"intake/internal/testenv"
	"intake/parser/sheet"
)

// pyBook is what testdata/openpyxl_cells.py wrote for one workbook.
type pyBook struct {
	File     string    `json:"file"`
	Error    string    `json:"error"`
	Date1904 bool      `json:"date1904"`
	Sheets   []pySheet `json:"sheets"`
}

type pySheet struct {
	Name   string   `json:"name"`
	Cells  [][]any  `json:"cells"`  // row, column, type (s n d d? b e), value
	Merged [][4]int `json:"merged"` // min row, min column, max row, max column
	Links  [][2]int `json:"links"`  // row, column of each hyperlinked cell
}

type pyCell struct{ typ, value string }

// Kinds of disagreement between the stream reader (through Open, as the
// checker reads a file) and openpyxl, each one a known difference of
// openpyxl's, not a bug of ours. A disagreement of no kind below is
// "unexplained" and fails the test.
const (
	disMerged     = "merged cells: openpyxl empties every cell of a merged range but its first, where the file holds values"
	disLink       = "hyperlink artefacts: openpyxl puts a hyperlink's target into the empty cell it is anchored to"
	disDateFormat = "date formats: openpyxl decides by its own reading of the number format whether a number is a date (East Asian and locale codes, elapsed time, formats with text)"
	disNumberText = "number text: a number cell whose text is no number (openpyxl keeps the text or reads it as a string)"
	disEscapes    = "escapes: openpyxl leaves _xHHHH_ escapes of inline and formula strings undecoded"
	disDateValue  = "date values: openpyxl cannot convert the serial (before 1900, beyond 9999, or in the 1900 leap-year gap)"
	disOpen       = "openpyxl cannot open the file"
	disStrict     = "strict OOXML: openpyxl 3.0.9 finds no worksheet in a workbook with ISO/IEC 29500 strict namespaces"
	disSheetKinds = "sheet kinds: openpyxl lists macro and dialog sheets with the worksheets; Sheets() leaves them out"
	disInlineV    = "inline strings in <v>: openpyxl reads an inlineStr cell's text only from <is>, not from the <v> LibreOffice wrote"
	disDuplicate  = "duplicate zip entries: openpyxl reads another of two parts of one name than excelize, which Open falls back to"
)

// TestStreamMatchesOpenpyxl_corpus is the second, independent oracle of
// the differential test (issue 15): openpyxl (Debian's python3-openpyxl)
// reads every corpus workbook that Open reads, and the two must give the
// same worksheets and the same cells (strings equal, numbers equal as
// numbers, date cells as the same serial, booleans and errors equal). A
// bug excelize and the stream reader share shows here. Every
// disagreement is classified; each file's kinds must be those listed in
// openpyxlDisagreements (the table of parser/sheet/README.md), and a
// listed file must still disagree so.
func TestStreamMatchesOpenpyxl_corpus(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3-openpyxl")
	if out, err := exec.Command(py, "-c", "import openpyxl").CombinedOutput(); err != nil {
		testenv.Missing(t, "openpyxl (python3-openpyxl): "+string(out))
	}
	dir := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	var rels []string
	lim := sheet.DefaultLimits()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if _, slow := openpyxlSlow[filepath.ToSlash(rel)]; slow {
			return nil
		}
		if w, err := sheet.Open(data, lim); err == nil {
			w.Close()
			rels = append(rels, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) == 0 {
		testenv.Missing(t, "the xlsx corpus")
	}
	sort.Strings(rels)
	out := t.TempDir()
	cmd := exec.Command(py, filepath.Join("testdata", "openpyxl_cells.py"), dir, out)
	cmd.Stdin = strings.NewReader(strings.Join(rels, "\n"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openpyxl: %v: %s", err, b)
	}
	found := map[string]map[string]bool{}
	total := 0
	for i, rel := range rels {
		b, err := os.ReadFile(filepath.Join(out, strconv.Itoa(i)+".json"))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		var pb pyBook
		if err := json.Unmarshal(b, &pb); err != nil || pb.File != rel {
			t.Fatalf("%s: %v (file %q)", rel, err, pb.File)
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		kinds, n := compareOpenpyxl(t, rel, data, &pb)
		total += n
		if len(kinds) > 0 {
			found[rel] = kinds
		}
	}
	t.Logf("%d workbooks, %d cells agree; %d files disagree in known ways", len(rels), total, len(found))
	for rel, kinds := range found {
		for k := range kinds {
			if !contains(openpyxlDisagreements[rel], k) {
				t.Errorf("%s: %s (not listed in openpyxlDisagreements)", rel, k)
			}
		}
	}
	for rel, listed := range openpyxlDisagreements {
		for _, k := range listed {
			if !found[rel][k] {
				t.Errorf("%s: listed as %q, but no longer disagrees so", rel, k)
			}
		}
	}
}

// compareOpenpyxl compares Open's reading of data with openpyxl's; it
// returns the kinds of disagreement found and the number of cells that
// agree. An unexplained disagreement is reported at once.
func compareOpenpyxl(t *testing.T, rel string, data []byte, pb *pyBook) (map[string]bool, int) {
	t.Helper()
	kinds := map[string]bool{}
	if pb.Error != "" {
		kinds[disOpen] = true
		return kinds, 0
	}
	w, err := sheet.Open(data, sheet.DefaultLimits())
	if err != nil {
		t.Errorf("%s: %v", rel, err)
		return kinds, 0
	}
	defer w.Close()
	got := readAll(w)
	var names []string
	for _, s := range pb.Sheets {
		names = append(names, s.Name)
	}
	if len(names) == 0 && len(got.sheets) > 0 && strictPackage(data) {
		kinds[disStrict] = true
		return kinds, 0
	}
	if strings.Join(names, "\x00") != strings.Join(got.sheets, "\x00") {
		if !subsequence(got.sheets, names) {
			t.Errorf("%s: unexplained: sheets %q, openpyxl %q", rel, got.sheets, names)
			return kinds, 0
		}
		kinds[disSheetKinds] = true
	}
	dup := duplicateEntries(data)
	if got.date1904 != pb.Date1904 {
		t.Errorf("%s: unexplained: date1904 %v, openpyxl %v", rel, got.date1904, pb.Date1904)
	}
	agree := 0
	for _, ps := range pb.Sheets {
		theirs := map[[2]int]pyCell{}
		for _, c := range ps.Cells {
			theirs[[2]int{int(c[0].(float64)), int(c[1].(float64))}] = pyCell{c[2].(string), c[3].(string)}
		}
		links := map[[2]int]bool{}
		for _, l := range ps.Links {
			links[l] = true
		}
		merged := func(k [2]int) bool {
			for _, m := range ps.Merged {
				if k[0] >= m[0] && k[0] <= m[2] && k[1] >= m[1] && k[1] <= m[3] && (k[0] != m[0] || k[1] != m[1]) {
					return true
				}
			}
			return false
		}
		name := ps.Name
		if _, ours := got.rows[name]; !ours && !contains(got.sheets, name) {
			continue // a sheet Sheets() leaves out
		}
		if err := got.errs[name]; err != nil {
			t.Errorf("%s: sheet %q: %v", rel, name, err)
			continue
		}
		for _, r := range got.rows[name] {
			for _, c := range r.Cells {
				k := [2]int{r.Num, c.Col}
				p, ok := theirs[k]
				delete(theirs, k)
				kind := ""
				switch {
				case dup:
					kind = disDuplicate
				case !ok && merged(k):
					kind = disMerged
				case !ok && inlineV(data):
					kind = disInlineV
				case !ok:
					kind = "unexplained: only the stream reader has the cell"
				default:
					kind = classifyCell(c, p, got.date1904)
				}
				if kind == "" {
					agree++
					continue
				}
				if strings.HasPrefix(kind, "unexplained") {
					t.Errorf("%s: sheet %q %s%d: %s: stream %s, openpyxl %s %q", rel, name, colName(c.Col), r.Num, kind, cellString(c), p.typ, p.value)
				}
				kinds[kind] = true
			}
		}
		for k, p := range theirs {
			if links[k] && p.typ == "s" {
				kinds[disLink] = true
				continue
			}
			if dup {
				kinds[disDuplicate] = true
				continue
			}
			t.Errorf("%s: sheet %q %s%d: unexplained: only openpyxl has the cell: %s %q", rel, name, colName(k[1]), k[0], p.typ, p.value)
		}
	}
	return kinds, agree
}

var escapeText = regexp.MustCompile(`_x[0-9A-Fa-f]{4}_`)

// classifyCell returns "" when the stream reader's cell and openpyxl's
// agree, and otherwise the kind of their disagreement.
func classifyCell(c sheet.Cell, p pyCell, date1904 bool) string {
	switch {
	case c.Type == sheet.String && p.typ == "s":
		if c.Value == p.value {
			return ""
		}
		if escapeText.MatchString(p.value) {
			return disEscapes
		}
	case c.Type == sheet.Number && !c.Date && p.typ == "n":
		if sameNumber(c.Value, p.value) {
			return ""
		}
	case c.Type == sheet.Number && c.Date && p.typ == "d":
		if sameNumber(c.Value, p.value) {
			return ""
		}
		if f, _ := strconv.ParseFloat(c.Value, 64); f >= 60 && f < 61 && !date1904 {
			return disDateValue // 29 February 1900, which Excel counts and openpyxl does not
		}
	case c.Type == sheet.Number && c.Date && p.typ == "e":
		return disDateValue
	case c.Type == sheet.Number && p.typ == "d?":
		return disDateValue
	case c.Type == sheet.Number && (c.Date != (p.typ == "d")) && (p.typ == "n" || p.typ == "d"):
		if sameNumber(c.Value, p.value) {
			return disDateFormat
		}
	case c.Type == sheet.Number && p.typ == "s":
		if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
			return disNumberText
		}
	case c.Type == sheet.Bool && p.typ == "b", c.Type == sheet.Error && p.typ == "e":
		if c.Value == p.value {
			return ""
		}
	}
	return fmt.Sprintf("unexplained: %v %q, openpyxl %s %q", c.Type, c.Value, p.typ, p.value)
}

// sameNumber compares two numbers as numbers; dates to the millisecond
// (openpyxl rounds times to microseconds, and back).
func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && (x == y || math.Abs(x-y) <= 1e-8*math.Max(1, math.Abs(x)))
}

// TestOpenpyxlTable_matchesReadme: README.md lists the files openpyxl
// disagrees on, and those left out for time, as the test does.
func TestOpenpyxlTable_matchesReadme(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	joined := map[string]string{}
	for file, kinds := range openpyxlDisagreements {
		joined[file] = strings.Join(kinds, "; ")
	}
	for _, tc := range []struct {
		header string
		want   map[string]string
		count  string
	}{
		{"| corpus file | how openpyxl disagrees |", joined, "%d files disagree with openpyxl"},
		{"| corpus file | openpyxl takes |", openpyxlSlow, "%d files are left out for openpyxl's time"},
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

// strictPackage reports a workbook part in strict OOXML namespaces.
func strictPackage(data []byte) bool {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false
	}
	for _, f := range zr.File {
		if strings.HasSuffix(strings.ToLower(f.Name), "workbook.xml") {
			rc, err := f.Open()
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
			rc.Close()
			return bytes.Contains(b, []byte("http://purl.oclc.org/ooxml/spreadsheetml/main"))
		}
	}
	return false
}

// duplicateEntries reports a zip with two entries of one name.
func duplicateEntries(data []byte) bool {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false
	}
	seen := map[string]bool{}
	for _, f := range zr.File {
		if seen[f.Name] {
			return true
		}
		seen[f.Name] = true
	}
	return false
}

var inlineInV = regexp.MustCompile(`t="inlineStr"[^>]*>(<f[^>]*>[^<]*</f>)?<v`)

// inlineV reports a worksheet holding an inlineStr cell with a <v>.
func inlineV(data []byte) bool {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false
	}
	for _, f := range zr.File {
		if strings.Contains(f.Name, "worksheets/") {
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 64<<20))
			rc.Close()
			if inlineInV.Match(b) {
				return true
			}
		}
	}
	return false
}

// subsequence reports whether a is b with some elements left out.
func subsequence(a, b []string) bool {
	i := 0
	for _, x := range b {
		if i < len(a) && a[i] == x {
			i++
		}
	}
	return i == len(a)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// openpyxlSlow are the corpus files openpyxl needs more than 10 s for
// (minutes for one), left out of the comparison so that it runs in about
// a minute on two cores; excelize and the stream reader still read them.
var openpyxlSlow = map[string]string{
	"calamine/issue_174.xlsx":                                      "does not finish in minutes",
	"poi/spreadsheet/57893-many-merges.xlsx":                       "50 s (thousands of merged ranges)",
	"exceldatareader/Test_BigFormatted.xlsx":                       "23 s",
	"poi/spreadsheet/bug62181.xlsx":                                "23 s",
	"poi/spreadsheet/CVLKRA-KYC_Download_File_Structure_V3.1.xlsx": "12 s",
	"openpyxl-2015/tests/data/reader/bigfoot.xlsx":                 "11 s",
}

// openpyxlDisagreements lists each corpus file on which openpyxl and the
// stream reader disagree, with the kinds of disagreement.
var openpyxlDisagreements = map[string][]string{
	"calamine/empty_s_attribute.xlsx":                                                            {disOpen},
	"calamine/has_x000D_.xlsx":                                                                   {disEscapes},
	"calamine/has_x000D_inline.xlsx":                                                             {disEscapes},
	"calamine/issue_419.xlsx":                                                                    {disOpen},
	"calamine/issue_530.xlsx":                                                                    {disOpen},
	"calamine/minimal_package.xlsx":                                                              {disOpen},
	"calamine/strict_iso_paths.xlsx":                                                             {disStrict},
	"exceldatareader/Fillreport.xlsx":                                                            {disOpen},
	"exceldatareader/Test_git_issue_14_InvalidOADate.xlsx":                                       {disDateValue},
	"exceldatareader/Test_git_issue_283_TimeSpan.xlsx":                                           {disDateValue},
	"exceldatareader/Test_git_issue_324.xlsx":                                                    {disMerged},
	"exceldatareader/Test_git_issue_385_backslash.xlsx":                                          {disOpen},
	"exceldatareader/Test_git_issue_629.xlsx":                                                    {disOpen},
	"exceldatareader/Test_git_issue_711_OpenXml_Row_height_parsing.xlsx":                         {disOpen},
	"exceldatareader/Test_git_issue_711_OpenXml_Row_height_parsing_negative_default_height.xlsx": {disOpen},
	"exceldatareader/strict/CollapsedHide.xlsx":                                                  {disStrict},
	"exceldatareader/strict/ColumnWidthsTest.xlsx":                                               {disStrict},
	"exceldatareader/strict/Fillreport.xlsx":                                                     {disStrict},
	"exceldatareader/strict/Format49_@.xlsx":                                                     {disStrict},
	"exceldatareader/strict/NoDimensionOrCellReferenceAttribute.xlsx":                            {disStrict},
	"exceldatareader/strict/Test10x10.xlsx":                                                      {disStrict},
	"exceldatareader/strict/Test10x10000.xlsx":                                                   {disStrict},
	"exceldatareader/strict/Test255x10.xlsx":                                                     {disStrict},
	"exceldatareader/strict/TestChess.xlsx":                                                      {disStrict},
	"exceldatareader/strict/TestDoublePrecision.xlsx":                                            {disStrict},
	"exceldatareader/strict/TestExcel_2040.xlsx":                                                 {disStrict},
	"exceldatareader/strict/TestMultiSheet.xlsx":                                                 {disStrict},
	"exceldatareader/strict/TestOpen.xlsx":                                                       {disStrict},
	"exceldatareader/strict/TestUnicodeChars.xlsx":                                               {disStrict},
	"exceldatareader/strict/Test_BigFormatted.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_BlankHeader.xlsx":                                               {disStrict},
	"exceldatareader/strict/Test_Decimal_1109.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_Decimal_Locale.xlsx":                                            {disStrict},
	"exceldatareader/strict/Test_Encoding_Formula_Date_1520.xlsx":                                {disStrict},
	"exceldatareader/strict/Test_Excel_Dataset.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_Excel_OpenOffice.xlsx":                                          {disStrict},
	"exceldatareader/strict/Test_Issue_10725.xlsx":                                               {disStrict},
	"exceldatareader/strict/Test_Issue_11397.xlsx":                                               {disStrict},
	"exceldatareader/strict/Test_Issue_11435_Colors.xlsx":                                        {disStrict},
	"exceldatareader/strict/Test_Issue_11479_BlankSheet.xlsx":                                    {disStrict},
	"exceldatareader/strict/Test_Issue_11516_Single_Tab.xlsx":                                    {disStrict},
	"exceldatareader/strict/Test_Issue_11522_OpenXml.xlsx":                                       {disStrict},
	"exceldatareader/strict/Test_Issue_11573_BlankValues.xlsx":                                   {disOpen},
	"exceldatareader/strict/Test_Issue_11773_Exponential.xlsx":                                   {disStrict},
	"exceldatareader/strict/Test_Issue_12667_GoogleExport_MissingColumns.xlsx":                   {disStrict},
	"exceldatareader/strict/Test_Issue_4031_NullColumn.xlsx":                                     {disStrict},
	"exceldatareader/strict/Test_Issue_4145.xlsx":                                                {disStrict},
	"exceldatareader/strict/Test_Issue_7433_IllegalOleAutDate.xlsx":                              {disStrict},
	"exceldatareader/strict/Test_Issue_8536.xlsx":                                                {disStrict},
	"exceldatareader/strict/Test_Issue_BoolFormula.xlsx":                                         {disStrict},
	"exceldatareader/strict/Test_Issue_DateFormatButNotDate.xlsx":                                {disStrict},
	"exceldatareader/strict/Test_Issue_NoStyles_NoRAttribute.xlsx":                               {disStrict},
	"exceldatareader/strict/Test_Issue_xxx_LocaleTime.xlsx":                                      {disStrict},
	"exceldatareader/strict/Test_LotsOfSheets.xlsx":                                              {disOpen},
	"exceldatareader/strict/Test_MergedCell.xlsx":                                                {disStrict},
	"exceldatareader/strict/Test_git_Issue_142.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue289.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_git_issue319.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_git_issue454.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_git_issue578.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_git_issue682.xlsx":                                              {disStrict},
	"exceldatareader/strict/Test_git_issue_14_InvalidOADate.xlsx":                                {disStrict},
	"exceldatareader/strict/Test_git_issue_221.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_224_firstoddeven.xlsx":                                {disStrict},
	"exceldatareader/strict/Test_git_issue_224_simple.xlsx":                                      {disStrict},
	"exceldatareader/strict/Test_git_issue_250_richtext.xlsx":                                    {disStrict},
	"exceldatareader/strict/Test_git_issue_270.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_271_InvalidDimension.xlsx":                            {disStrict},
	"exceldatareader/strict/Test_git_issue_283_TimeSpan.xlsx":                                    {disStrict},
	"exceldatareader/strict/Test_git_issue_301_IgnoreCase.xlsx":                                  {disStrict},
	"exceldatareader/strict/Test_git_issue_324.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_329_error.xlsx":                                       {disStrict},
	"exceldatareader/strict/Test_git_issue_341.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_385_backslash.xlsx":                                   {disStrict},
	"exceldatareader/strict/Test_git_issue_486.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_498.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_532.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_53_Cached_Formula_String_Type.xlsx":                   {disStrict},
	"exceldatareader/strict/Test_git_issue_574.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_git_issue_694_TimeSpan.xlsx":                                    {disStrict},
	"exceldatareader/strict/Test_googlesourced.xlsx":                                             {disStrict},
	"exceldatareader/strict/Test_hashes.xlsx":                                                    {disStrict},
	"exceldatareader/strict/Test_num_double_date_bool_string.xlsx":                               {disStrict},
	"exceldatareader/strict/roo_1900_base.xlsx":                                                  {disStrict},
	"exceldatareader/strict/roo_1904_base.xlsx":                                                  {disStrict},
	"exceldatareader/strict/test_git_issue_354.xlsx":                                             {disStrict},
	"exceldatareader/strict/test_git_issue_364.xlsx":                                             {disStrict},
	"excelize/CalcChain.xlsx":                                                                    {disOpen},
	"poi/integration/stress002.xlsx":                                                             {disMerged},
	"poi/spreadsheet/49609.xlsx":                                                                 {disOpen},
	"poi/spreadsheet/52575_main.xlsx":                                                            {disInlineV},
	"poi/spreadsheet/57914.xlsx":                                                                 {disStrict},
	"poi/spreadsheet/60289.xlsx":                                                                 {disEscapes},
	"poi/spreadsheet/64420.xlsm":                                                                 {disSheetKinds},
	"poi/spreadsheet/65016.xlsx":                                                                 {disOpen},
	"poi/spreadsheet/SampleSS.strict.xlsx":                                                       {disStrict},
	"poi/spreadsheet/SimpleStrict.xlsx":                                                          {disStrict},
	"poi/spreadsheet/clusterfuzz-testcase-minimized-POIXSSFFuzzer-5937385319563264.xlsx":         {disOpen},
	"poi/spreadsheet/duplicate-filename.xlsx":                                                    {disDuplicate},
	"poi/spreadsheet/picture.xlsx":                                                               {disOpen},
	"poi/spreadsheet/sample.strict.xlsx":                                                         {disStrict},
	"poi/spreadsheet/style-alternate-content.xlsx":                                               {disOpen},
	"poi/spreadsheet/xlmmacro.xlsm":                                                              {disSheetKinds},
	"sheetjs/Attendance.xlsx":                                                                    {disDateFormat},
	"sheetjs/BlankSheetTypes.xlsm":                                                               {disSheetKinds},
	"sheetjs/LONumbers-2010.xlsx":                                                                {disDateFormat},
	"sheetjs/LONumbers-2011.xlsx":                                                                {disDateFormat},
	"sheetjs/LONumbers.xlsx":                                                                     {disDateFormat},
	"sheetjs/pivot_table_named_range.xlsx":                                                       {disOpen},
	"sheetjs/sheet_visibility_strict.xlsx":                                                       {disStrict},
	"sheetjs/wtf_path.xlsx":                                                                      {disOpen},
	"sheetjs/xlsx-stream-d-date-cell.xlsx":                                                       {disOpen},
}
