package sheet_test

import (
	"regexp"
	"testing"

	"intake/parser/sheet"
)

// FuzzStreamVsExcelize feeds workbooks with mutated worksheet and shared
// string parts to both readers: a panic, or a disagreement where the
// stream reader accepts the file, fails. (A mutated zip would mostly fail
// its checksum; mutating the XML inside a valid zip reaches the scanner.)
// CI (make fuzz, scripts/fuzz-short) runs it for a bounded number of
// inputs, not a duration, and bounds minimising a new input too:
//
//	go test -run '^$' -fuzz '^FuzzStreamVsExcelize$' -fuzztime 3000x -fuzzminimizetime 100x ./parser/sheet
func FuzzStreamVsExcelize(f *testing.F) {
	f.Add(sheetXML(`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>45000</v></c></row>`), sstXML(`<si><t>a</t></si>`))
	f.Add(sheetXML(`<row><c t="inlineStr"><is><r><t>x&amp;y</t></r></is></c><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c></row><row r="4"><c><f>1+1</f><v>2</v></c></row>`), sstXML())
	f.Add(`<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="2"><x:c r="C2" t="str"><x:v>s</x:v></x:c></x:row></x:sheetData></x:worksheet>`,
		sstXML(`<si><r><t xml:space="preserve"> a </t></r><rPh><t>b</t></rPh></si>`))
	f.Add(sheetXML(`<row r="1"><c r="A1" t="d"><v>2021-01-01</v></c><c r="B1" t="inlineStr"><is><t><![CDATA[<&>]]></t></is></c></row>`), sstXML(`<si><t>_x0041_&#233;</t></si>`))
	base := baseWorkbook(f)
	lim := sheet.DefaultLimits()
	// Small bounds keep the oracle fast: excelize's adapter asks the
	// worksheet model for each cell's type, and the model grows to the
	// highest row and column a mutated reference names.
	lim.MaxPartBytes, lim.MaxTotalBytes = 1<<20, 4<<20
	lim.MaxRows, lim.MaxColumns = 1000, 200
	f.Fuzz(func(t *testing.T, sheetPart, sstPart string) {
		if lowerCellRef.MatchString(sheetPart) {
			// excelize, the oracle, finds a cell's type and style by its
			// reference upper-cased (GetCellType), while its model keeps
			// the reference as written: a string in cell "e1" comes out of
			// it as a number. The stream reader reads the cell as it is;
			// the oracle has no answer to compare with.
			return
		}
		data := rewrite(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheetPart, "xl/sharedStrings.xml": sstPart})
		if d, _ := compareReaders(data, lim, false); d != "" {
			t.Fatalf("readers disagree: %s\nsheet: %q\nsst: %q", d, sheetPart, sstPart)
		}
	})
}

// lowerCellRef finds a cell whose reference has a lower-case letter.
var lowerCellRef = regexp.MustCompile(`<(?:\w+:)?c\s[^>]*\br\s*=\s*["'][^"']*[a-z]`)
