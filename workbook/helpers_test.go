package workbook_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
)

func fptr(f float64) *float64 { return &f }

func testDef() *parser.Definition        { return parsertest.SmallCall() }
func longList() []string                 { return parsertest.LongList() }
func agencyWorkbook(t testing.TB) []byte { return parsertest.AgencyWorkbook(t) }

// rawFill is the fill colour (fgColor rgb) of a cell's style, read from
// xl/styles.xml itself: excelize's GetStyle reports no colour at all for
// workbooks without a theme part, as LibreOffice and Gnumeric write them.
func rawFill(t testing.TB, f *excelize.File, data []byte, sheetName, cell string) string {
	t.Helper()
	xf, err := f.GetCellStyle(sheetName, cell)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := z.Open("xl/styles.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var ss struct {
		Fills []struct {
			Fg struct {
				RGB string `xml:"rgb,attr"`
			} `xml:"patternFill>fgColor"`
		} `xml:"fills>fill"`
		Xfs []struct {
			FillID int `xml:"fillId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := xml.NewDecoder(rc).Decode(&ss); err != nil {
		t.Fatal(err)
	}
	if xf >= len(ss.Xfs) || ss.Xfs[xf].FillID >= len(ss.Fills) {
		t.Fatalf("style %d of %s out of range", xf, cell)
	}
	return strings.ToUpper(strings.TrimPrefix(ss.Fills[ss.Xfs[xf].FillID].Fg.RGB, "FF"))
}

func openXLSX(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

var _ = strings.ToUpper
var _ = time.Now
