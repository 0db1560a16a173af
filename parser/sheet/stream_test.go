package sheet_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser/sheet"
)

// baseWorkbook is a one-sheet workbook made by excelize, with a shared
// string table and a date style, whose parts the tests rewrite.
func baseWorkbook(tb testing.TB) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetCellValue("Sheet1", "A1", "x"); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.NewStyle(&excelize.Style{NumFmt: 14}); err != nil { // cellXfs 1: a date
		tb.Fatal(err)
	}
	custom := "yyyy-mm-dd hh:mm"
	if _, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom}); err != nil { // cellXfs 2: a custom date
		tb.Fatal(err)
	}
	money := "#,##0.00"
	if _, err := f.NewStyle(&excelize.Style{CustomNumFmt: &money}); err != nil { // cellXfs 3: not a date
		tb.Fatal(err)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// rewrite returns the zip data with the named entries replaced (added
// when new; removed when the content is nil).
func rewrite(tb testing.TB, data []byte, parts map[string]string) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	done := map[string]bool{}
	put := func(name, content string) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		io.WriteString(w, content)
	}
	for _, f := range zr.File {
		if content, ok := parts[f.Name]; ok {
			done[f.Name] = true
			if content != "\x00delete" {
				put(f.Name, content)
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		put(f.Name, string(b))
	}
	for name, content := range parts {
		if !done[name] && content != "\x00delete" {
			put(name, content)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// partOf returns one part of a zip.
func partOf(tb testing.TB, data []byte, name string) string {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			return string(b)
		}
	}
	tb.Fatalf("no part %s", name)
	return ""
}

const mainNS = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`

func sheetXML(rows string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet ` + mainNS + `><sheetData>` + rows + `</sheetData></worksheet>`
}

func sstXML(items ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><sst ` + mainNS + ` count="` + fmt.Sprint(len(items)) + `">` +
		strings.Join(items, "") + `</sst>`
}

// rowsOf reads the first sheet with the given opener.
func rowsOf(tb testing.TB, open func([]byte, sheet.Limits) (sheet.Workbook, error), data []byte, lim sheet.Limits) ([]sheet.Row, sheet.Workbook, error) {
	tb.Helper()
	w, err := open(data, lim)
	if err != nil {
		return nil, nil, err
	}
	tb.Cleanup(func() { w.Close() })
	rs, err := w.Rows(w.Sheets()[0])
	if err != nil {
		return nil, w, err
	}
	defer rs.Close()
	var out []sheet.Row
	for rs.Next() {
		out = append(out, rs.Row())
	}
	return out, w, rs.Err()
}

func render(rows []sheet.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%d:", r.Num)
		for _, c := range r.Cells {
			fmt.Fprintf(&b, " %d=%s(%q)", c.Col, c.Type, c.Value)
			if c.Date {
				b.WriteString("date")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestStream_constructs reads what real producers write, checks the rows
// the streaming reader gives, and that excelize gives the same.
func TestStream_constructs(t *testing.T) {
	base := baseWorkbook(t)
	tests := []struct {
		name  string
		parts map[string]string
		want  string
	}{
		{"shared strings, rich text, phonetic runs", map[string]string{
			"xl/sharedStrings.xml": sstXML(`<si><t>plain</t></si>`,
				`<si><r><rPr><b/></rPr><t>bold</t></r><r><t xml:space="preserve"> and more</t></r></si>`,
				`<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/></si>`,
				`<si><t/></si>`),
			"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v> 2 </v></c><c r="D1" t="s"><v>3</v></c></row>`),
		}, `1: 1=string("plain") 2=string("bold and more") 3=string("漢字")` + "\n"},
		{"inline strings, entities, references, whitespace, escapes", map[string]string{
			"xl/worksheets/sheet1.xml": sheetXML(`<row r="2"><c r="A2" t="inlineStr"><is><t>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x263A;</t></is></c>` +
				`<c r="B2" t="inlineStr"><is><t xml:space="preserve">  padded  </t></is></c>` +
				`<c r="C2" t="inlineStr"><is><r><t>run1</t></r><r><t>run2</t></r></is></c>` +
				"<c r=\"D2\" t=\"inlineStr\"><is><t>line1\r\nline2</t></is></c>" +
				`<c r="E2" t="inlineStr"><is><t>tab_x0009_under_x005F_x0041_</t></is></c>` +
				`<c r="F2" t="inlineStr"><is><t><![CDATA[<raw> & text]]></t></is></c></row>`),
		}, `2: 1=string("a & b <c> \"d\" 'e' é☺") 2=string("  padded  ") 3=string("run1run2") 4=string("line1\nline2") 5=string("tab\tunder_x0041_") 6=string("<raw> & text")` + "\n"},
		{"namespace prefixes (OpenXML SDK)", map[string]string{
			"xl/worksheets/sheet1.xml": `<?xml version="1.0" encoding="utf-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>` +
				`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>sdk</x:t></x:is></x:c><x:c r="B1" s="1"><x:v>45000</x:v></x:c></x:row></x:sheetData></x:worksheet>`,
		}, `1: 1=string("sdk") 2=number("45000")date` + "\n"},
		{"no r attributes, gap rows", map[string]string{
			"xl/worksheets/sheet1.xml": sheetXML(`<row><c><v>1</v></c><c><v>2</v></c></row><row r="5"><c r="C5"><v>3</v></c><c><v>4</v></c></row><row/><row><c t="inlineStr"><is><t>seven</t></is></c></row><row r="9"></row><row r="10"><c r="A10"/></row>`),
		}, "1: 1=number(\"1\") 2=number(\"2\")\n5: 3=number(\"3\") 4=number(\"4\")\n7: 1=string(\"seven\")\n"},
		{"booleans, errors, formulas with and without cached values", map[string]string{
			"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="b"><v>0</v></c><c r="C1" t="e"><v>#N/A</v></c>` +
				`<c r="D1"><f>SUM(1,2)</f><v>3</v></c><c r="E1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="F1"><f>NOW()</f></c><c r="G1" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>`),
		}, `1: 1=bool("1") 2=bool("0") 3=error("#N/A") 4=number("3") 5=string("ab") 7=error("#DIV/0!")` + "\n"},
		{"date formats: built-in, custom, not a date", map[string]string{
			"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" s="1"><v>45000</v></c><c r="B1" s="2"><v>45000.5</v></c><c r="C1" s="3"><v>45000</v></c><c r="D1" s="0"><v>1.5E-3</v></c><c r="E1" s="99"><v>7</v></c><c r="F1" s="1" t="n"><v>1</v></c></row>`),
		}, `1: 1=number("45000")date 2=number("45000.5")date 3=number("45000") 4=number("1.5E-3") 5=number("7") 6=number("1")date` + "\n"},
		{"ISO 8601 date cells (t=\"d\")", map[string]string{
			"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" t="d" s="1"><v>2021-01-20</v></c><c r="B1" t="d"><v>2021-01-20T12:00:00Z</v></c><c r="C1" t="d"><v>not a date</v></c></row>`),
		}, `1: 1=number("44216")date 2=number("44216.5")date 3=string("not a date")` + "\n"},
		{"comments, processing instructions, other elements", map[string]string{
			"xl/worksheets/sheet1.xml": `<?xml version="1.0"?><!-- made by hand --><worksheet ` + mainNS + `><dimension ref="A1"/><sheetData><row r="1" spans="1:2"><?pi x?><c r="A1"><!-- c --><v>1</v></c><c r="B1"><extLst><ext uri="x"><v>9</v></ext></extLst><v>2</v></c></row></sheetData><pageMargins left="0.7"/></worksheet>`,
		}, "1: 1=number(\"1\") 2=number(\"2\")\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := rewrite(t, base, tc.parts)
			got, w, err := rowsOf(t, sheet.OpenStream, data, sheet.DefaultLimits())
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if w.Reader() != "stream" {
				t.Fatalf("Reader() = %q", w.Reader())
			}
			if render(got) != tc.want {
				t.Errorf("stream rows:\n%s\nwant:\n%s", render(got), tc.want)
			}
			if d, fb := compareReaders(data, sheet.DefaultLimits(), false); d != "" || fb != "" {
				t.Errorf("excelize disagrees: %s %s", d, fb)
			}
		})
	}
}

// TestStream_date1904 reads the workbook's date system.
func TestStream_date1904(t *testing.T) {
	base := baseWorkbook(t)
	wb := partOf(t, base, "xl/workbook.xml")
	if !strings.Contains(wb, "<workbookPr") {
		t.Fatalf("no workbookPr in %s", wb)
	}
	wb1904 := strings.Replace(wb, "<workbookPr", `<workbookPr date1904="1"`, 1)
	data := rewrite(t, base, map[string]string{"xl/workbook.xml": wb1904,
		"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" s="1"><v>0</v></c></row>`)})
	rows, w, err := rowsOf(t, sheet.OpenStream, data, sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !w.Date1904() {
		t.Fatal("Date1904() = false")
	}
	tm, ok := rows[0].Cells[0].Time(w.Date1904())
	if !ok || tm.Format("2006-01-02") != "1904-01-01" {
		t.Errorf("serial 0 in the 1904 system = %v %v", tm, ok)
	}
	if d, _ := compareReaders(data, sheet.DefaultLimits(), false); d != "" {
		t.Error(d)
	}
}

// TestStream_strict reads a workbook in strict OOXML namespaces (ISO/IEC
// 29500 strict): every transitional namespace and relationship type
// rewritten to its purl.oclc.org spelling.
func TestStream_strict(t *testing.T) {
	base := rewrite(t, baseWorkbook(t), map[string]string{
		"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>45000</v></c></row>`),
	})
	zr, _ := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	parts := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		s := strings.ReplaceAll(string(b), "http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
		s = strings.ReplaceAll(s, "http://schemas.openxmlformats.org/officeDocument/2006/relationships", "http://purl.oclc.org/ooxml/officeDocument/relationships")
		parts[f.Name] = s
	}
	if !strings.Contains(parts["_rels/.rels"], "purl.oclc.org/ooxml/officeDocument/relationships/officeDocument") {
		t.Fatalf("rewrite missed the package relationships: %s", parts["_rels/.rels"])
	}
	data := rewrite(t, base, parts)
	rows, w, err := rowsOf(t, sheet.OpenStream, data, sheet.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(rows), `1: 1=string("x") 2=number("45000")date`+"\n"; got != want || w.Reader() != "stream" {
		t.Errorf("strict: %s (%s), want %s", got, w.Reader(), want)
	}
}

// TestStream_limits checks each bound gives ErrTooLarge, never a fallback.
func TestStream_limits(t *testing.T) {
	base := baseWorkbook(t)
	long := strings.Repeat("y", 200)
	tests := []struct {
		name  string
		parts map[string]string
		lim   func(*sheet.Limits)
	}{
		{"rows", map[string]string{"xl/worksheets/sheet1.xml": sheetXML(strings.Repeat(`<row><c><v>1</v></c></row>`, 11))},
			func(l *sheet.Limits) { l.MaxRows = 10 }},
		{"columns", map[string]string{"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c r="K1"><v>1</v></c></row>`)},
			func(l *sheet.Limits) { l.MaxColumns = 10 }},
		{"cell length", map[string]string{"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c t="inlineStr"><is><t>` + long + `</t></is></c></row>`)},
			func(l *sheet.Limits) { l.MaxCellBytes = 100 }},
		{"cell length, split text", map[string]string{"xl/worksheets/sheet1.xml": sheetXML(`<row r="1"><c t="inlineStr"><is><r><t>` + long[:80] + `</t></r><r><t>` + long[:80] + `</t></r></is></c></row>`)},
			func(l *sheet.Limits) { l.MaxCellBytes = 100 }},
		{"shared string count", map[string]string{"xl/sharedStrings.xml": sstXML(`<si><t>a</t></si>`, `<si><t>b</t></si>`, `<si><t>c</t></si>`)},
			func(l *sheet.Limits) { l.MaxStrings = 2 }},
		{"shared string size", map[string]string{"xl/sharedStrings.xml": sstXML(`<si><t>` + long + `</t></si>`)},
			func(l *sheet.Limits) { l.MaxPartBytes = 150 }},
		{"part size (zip bomb)", map[string]string{"xl/worksheets/sheet1.xml": sheetXML(strings.Repeat(`<row/>`, 1<<20))},
			func(l *sheet.Limits) { l.MaxPartBytes = 1 << 20 }},
		{"total size", nil, func(l *sheet.Limits) { l.MaxTotalBytes = 1000 }},
		{"sheets", map[string]string{
			"xl/workbook.xml": `<workbook ` + mainNS + ` xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>` +
				`<sheet name="A" sheetId="1" r:id="rId1"/><sheet name="B" sheetId="2" r:id="rId1"/></sheets></workbook>`},
			func(l *sheet.Limits) { l.MaxSheets = 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := rewrite(t, base, tc.parts)
			lim := sheet.DefaultLimits()
			tc.lim(&lim)
			_, _, err := rowsOf(t, sheet.Open, data, lim)
			if !errors.Is(err, sheet.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestStream_partStopsAtLimit: a sheet whose zip entry lies about its
// size stops where the bytes run past the declared size, not at the end.
func TestStream_partStopsAtLimit(t *testing.T) {
	base := baseWorkbook(t)
	big := sheetXML(strings.Repeat(`<row r="1"/>`, 1) + strings.Repeat(" ", 8<<20))
	data := rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": big})
	// Rewrite the central directory sizes: declare 1000 bytes.
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		raw, _ := f.OpenRaw()
		h := f.FileHeader
		if f.Name == "xl/worksheets/sheet1.xml" {
			h.UncompressedSize64 = 1000
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, raw)
	}
	zw.Close()
	_, _, err := rowsOf(t, sheet.Open, out.Bytes(), sheet.DefaultLimits())
	if err == nil || errors.Is(err, sheet.ErrUnsupported) {
		t.Fatalf("err = %v, want the zip's size error", err)
	}
}

// TestStream_refused: declarations are refused, never expanded, and the
// file's own faults do not fall back to excelize.
func TestStream_refused(t *testing.T) {
	base := baseWorkbook(t)
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>`
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"DOCTYPE in a sheet", rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": bomb + `<worksheet ` + mainNS + `><sheetData><row><c t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>`}), sheet.ErrDoctype},
		{"DOCTYPE in the workbook", rewrite(t, base, map[string]string{"xl/workbook.xml": bomb + `<workbook ` + mainNS + `/>`}), sheet.ErrDoctype},
		{"DOCTYPE in shared strings", rewrite(t, base, map[string]string{"xl/sharedStrings.xml": bomb + sstXML(`<si><t>&lol2;</t></si>`)}), sheet.ErrDoctype},
		{"not a zip", []byte("hello, world"), sheet.ErrNotXLSX},
		{"old .xls", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), sheet.ErrLegacyXLS},
		{"a zip without a workbook", rewrite(t, base, map[string]string{"_rels/.rels": "\x00delete", "xl/workbook.xml": "\x00delete"}), sheet.ErrNotXLSX},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := rowsOf(t, sheet.Open, tc.data, sheet.DefaultLimits())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("corrupted entry", func(t *testing.T) {
		data := rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheetXML(strings.Repeat(`<row><c><v>12345</v></c></row>`, 2000))})
		i := bytes.Index(data, []byte("xl/worksheets/sheet1.xml"))
		for j := i + 200; j < i+400; j++ { // inside the compressed data
			data[j] ^= 0x55
		}
		_, w, err := rowsOf(t, sheet.Open, data, sheet.DefaultLimits())
		if err == nil || errors.Is(err, sheet.ErrUnsupported) || (w != nil && w.Reader() != "stream") {
			t.Fatalf("err = %v (reader %v), want a zip error from the stream reader", err, w)
		}
	})
}

// TestOpen_fallback: a construct the stream reader does not understand
// makes Open use excelize, at open time or in the middle of a sheet.
func TestOpen_fallback(t *testing.T) {
	base := baseWorkbook(t)
	t.Run("at open", func(t *testing.T) {
		data := rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": `<?xml version="1.0" encoding="windows-1252"?><worksheet ` + mainNS + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>caf` + "\xe9" + `</t></is></c></row></sheetData></worksheet>`})
		if _, err := sheet.OpenStream(data, sheet.DefaultLimits()); err != nil {
			t.Fatalf("OpenStream: %v (the sheet is read lazily)", err)
		}
		rels := partOf(t, base, "xl/_rels/workbook.xml.rels")
		if !strings.Contains(rels, `Target="/xl/sharedStrings.xml"`) {
			t.Fatalf("unexpected relationships %s", rels)
		}
		data = rewrite(t, base, map[string]string{"xl/sharedStrings.xml": "\x00delete", "xl/strings.xml": sstXML(`<si><t>moved</t></si>`),
			"xl/_rels/workbook.xml.rels": strings.Replace(rels, `Target="/xl/sharedStrings.xml"`, `Target="strings.xml"`, 1)})
		if _, err := sheet.OpenStream(data, sheet.DefaultLimits()); !errors.Is(err, sheet.ErrUnsupported) {
			t.Fatalf("OpenStream: %v, want ErrUnsupported", err)
		}
		w, err := sheet.Open(data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if w.Reader() != "excelize" {
			t.Errorf("Reader() = %q, want excelize", w.Reader())
		}
	})
	t.Run("mid-sheet", func(t *testing.T) {
		data := rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheetXML(
			`<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2" t="weird"><v>2</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>`)})
		rows, w, err := rowsOf(t, sheet.Open, data, sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if w.Reader() != "excelize" {
			t.Errorf("Reader() = %q, want excelize", w.Reader())
		}
		want := "1: 1=number(\"1\")\n2: 1=number(\"2\")\n3: 1=number(\"3\")\n"
		if render(rows) != want {
			t.Errorf("rows:\n%s\nwant:\n%s", render(rows), want)
		}
	})
}

// TestStream_chartSheetsLeftOut: both readers list worksheets only.
func TestStream_chartSheetsLeftOut(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	f.SetSheetRow("Sheet1", "A1", &[]any{"a", 1})
	if err := f.AddChartSheet("Chart1", &excelize.Chart{Type: excelize.Col,
		Series: []excelize.ChartSeries{{Name: "Sheet1!$A$1", Categories: "Sheet1!$A$1", Values: "Sheet1!$B$1"}}}); err != nil {
		t.Fatal(err)
	}
	f.NewSheet("Sheet2")
	buf, _ := f.WriteToBuffer()
	for _, open := range []func([]byte, sheet.Limits) (sheet.Workbook, error){sheet.OpenStream, sheet.OpenExcelize} {
		w, err := open(buf.Bytes(), sheet.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(w.Sheets(), ","); got != "Sheet1,Sheet2" {
			t.Errorf("%s: Sheets() = %s", w.Reader(), got)
		}
		w.Close()
	}
}
