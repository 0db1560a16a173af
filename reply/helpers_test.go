package reply_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/reply"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func fptr(f float64) *float64 { return &f }

// testDef is a small data call with a column of every type.
func testDef() *parser.Definition {
	return &parser.Definition{
		ID:            "test-call",
		Title:         "Test Position Data Call",
		Source:        "OPM memorandum of 5 February 2025",
		ReceiptPrefix: "TST",
		Routing:       parser.Routing{Addresses: []string{"allocation-management@opm.gov"}},
		Deadline:      parser.Deadline{Date: "2025-03-24", Zone: "America/New_York"},
		Instructions:  "Report every position.",
		Kinds: []parser.Kind{
			{
				ID: "position-report", Title: "Position report", Sheets: []string{"Positions"},
				Key: []string{"position_number"},
				Columns: []parser.Column{
					{Key: "position_number", Header: "Position Number", Type: "text", Required: true, Unique: true, Description: "The agency's position number."},
					{Key: "designation", Header: "Current Designation", Type: "enum", Required: true, Allowed: []string{"General", "Career Reserved"}},
					{Key: "noncareer", Header: "Noncareer Majority (Y/N)", Type: "yesno"},
					{Key: "redesignated", Header: "Redesignation Date", Type: "date", Description: "When the designation changed."},
					{Key: "grade", Header: "Grade", Type: "integer", Min: fptr(1), Max: fptr(15)},
					{Key: "status", Header: "Reversion Status", Type: "enum", Allowed: longList()},
				},
			},
			{
				ID: "retention-request", Title: "Retention request", Sheets: []string{"Retention"},
				Columns: []parser.Column{
					{Key: "position_number", Header: "Position Number", Type: "text", Required: true},
					{Key: "ground", Header: "Ground", Type: "enum", Allowed: []string{"Impartiality", "Public confidence in impartiality"}},
					{Key: "date", Header: "Date", Type: "date"},
				},
			},
		},
	}
}

// longList is an enum too long for an inline drop-down (over 255 characters).
func longList() []string {
	var l []string
	for _, s := range []string{"Reverted to General", "In process", "Retention requested", "Not applicable"} {
		l = append(l, s)
	}
	for i := 'A'; i <= 'R'; i++ {
		l = append(l, "Other status category "+string(i))
	}
	return l
}

// agencyWorkbook is the agency's own workbook: a Positions sheet whose
// D column holds dates with a custom number format, and a bold header.
func agencyWorkbook(t testing.TB) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Positions"); err != nil {
		t.Fatal(err)
	}
	header := []any{"Position Number", "Current Designation", "Noncareer Majority (Y/N)", "Redesignation Date", "Grade"}
	if err := f.SetSheetRow("Positions", "A1", &header); err != nil {
		t.Fatal(err)
	}
	custom := "dd/mm/yyyy"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom, Font: &excelize.Font{Italic: true}})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"HS-0001", "General", "Y", time.Date(2024, 12, 2, 0, 0, 0, 0, time.UTC), 15},
		{"HS-0002", "Career Reservd", "N", time.Date(2024, 11, 15, 0, 0, 0, 0, time.UTC), 15},
		{"HS-0003", "General", "maybe", time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), 16},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow("Positions", cell, &r); err != nil {
			t.Fatal(err)
		}
		d, _ := excelize.CoordinatesToCellName(4, i+2)
		if err := f.SetCellStyle("Positions", d, d, dateStyle); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Fixed instants of the fixtures (EDT: daylight time began 9 March 2025).
var (
	ny      = time.FixedZone("EDT", -4*3600)
	now     = time.Date(2025, 3, 10, 14, 30, 0, 0, time.UTC)
	sentAt  = time.Date(2025, 3, 10, 10, 29, 12, 0, ny)
	dueTime = time.Date(2025, 3, 24, 23, 59, 59, 0, ny)
)

func newBuilder(t testing.TB) *reply.Builder {
	t.Helper()
	b, err := reply.NewBuilder(reply.Options{
		From:         "allocation-management@opm.gov",
		FromName:     "OPM Data Call Intake",
		Organization: "U.S. Office of Personnel Management",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func original() reply.Original {
	return reply.Original{
		MessageID:  "<CAF1234.5678@mail.dhs.gov>",
		Subject:    "RE: SES designation review - DHS response",
		From:       "hc-reports@hq.dhs.gov",
		FromName:   "DHS Human Capital",
		References: []string{"<first.1@opm.gov>", "<second.2@mail.dhs.gov>"},
		Date:       sentAt,
		Received:   sentAt,
	}
}

// part is one leaf of a parsed message.
type part struct {
	Type     string // media type
	Filename string
	Body     []byte
}

// parsedMail is a raw message read back with go-message.
type parsedMail struct {
	Header    message.Header
	Structure string // e.g. "multipart/mixed(multipart/alternative(text/plain,text/html),application/...)"
	Parts     []part
}

func (p parsedMail) text(t testing.TB, mediaType string) string {
	t.Helper()
	for _, x := range p.Parts {
		if x.Type == mediaType && x.Filename == "" {
			return string(x.Body)
		}
	}
	t.Fatalf("no %s part in %s", mediaType, p.Structure)
	return ""
}

func parseMail(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message.Read: %v", err)
	}
	var p parsedMail
	p.Header = e.Header
	p.Structure = walk(t, e, &p.Parts)
	return p
}

func walk(t testing.TB, e *message.Entity, parts *[]part) string {
	t.Helper()
	mt, params, err := e.Header.ContentType()
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if mr := e.MultipartReader(); mr != nil {
		var kids []string
		for {
			c, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next part: %v", err)
			}
			kids = append(kids, walk(t, c, parts))
		}
		return mt + "(" + strings.Join(kids, ",") + ")"
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	_, dp, _ := e.Header.ContentDisposition()
	name := dp["filename"]
	if name == "" {
		name = params["name"]
	}
	*parts = append(*parts, part{Type: mt, Filename: name, Body: body})
	return mt
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reply -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; review with -update and git diff.\n--- got ---\n%s", name, clip(got))
	}
}

func clip(b []byte) string {
	if len(b) > 4000 {
		return string(b[:4000]) + "\n..."
	}
	return string(b)
}

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
