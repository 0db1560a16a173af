package reply_test

import (
	"bytes"
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
	"intake/parser/parsertest"
	"intake/reply"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func testDef() *parser.Definition        { return parsertest.SmallCall() }
func agencyWorkbook(t testing.TB) []byte { return parsertest.AgencyWorkbook(t) }

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

func openXLSX(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
