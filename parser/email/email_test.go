package email_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/xuri/excelize/v2"

	"intake/parser/email"
)

// mustXLSX returns a real one-sheet workbook whose A2 holds marker.
func mustXLSX(tb testing.TB, marker string) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, v := range []any{"Agency code", "Position number", marker} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetCellValue("Sheet1", cell, v); err != nil {
			tb.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// cellA3 opens a workbook and returns its A3 value (the marker).
func cellA3(tb testing.TB, data []byte) string {
	tb.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("attachment is not a readable workbook: %v", err)
	}
	defer f.Close()
	v, err := f.GetCellValue("Sheet1", "A3")
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// b64 encodes data as base64 in 76-column CRLF lines, as mail clients do.
func b64(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

// crlf turns LF line ends into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

type testAttachment struct {
	name, contentType string
	data              []byte
}

// buildMessage writes a multipart/mixed message with go-message's writer.
func buildMessage(tb testing.TB, h mail.Header, text string, atts ...testAttachment) []byte {
	tb.Helper()
	var buf bytes.Buffer
	mw, err := mail.CreateWriter(&buf, h)
	if err != nil {
		tb.Fatal(err)
	}
	tw, err := mw.CreateInline()
	if err != nil {
		tb.Fatal(err)
	}
	var th mail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	pw, err := tw.CreatePart(th)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprint(pw, text)
	pw.Close()
	tw.Close()
	for _, a := range atts {
		var ah mail.AttachmentHeader
		ah.Set("Content-Type", a.contentType)
		ah.SetFilename(a.name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(a.data)
		w.Close()
	}
	mw.Close()
	return buf.Bytes()
}

func baseHeader() mail.Header {
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{{Name: "Jane Roe", Address: "Jane.Roe@Agency.GOV"}})
	h.SetAddressList("To", []*mail.Address{{Address: "allocation-management@opm.gov"}})
	h.SetSubject("SES designation review: Agency response")
	h.SetDate(time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC))
	h.SetMessageID("abc123@agency.gov")
	return h
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func mustParse(tb testing.TB, raw []byte) *email.Message {
	tb.Helper()
	m, err := email.Parse(raw, email.DefaultLimits())
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return m
}

func TestParse_built(t *testing.T) {
	wb := mustXLSX(t, "built")
	raw := buildMessage(t, baseHeader(), "Please find our response attached.\n",
		testAttachment{"Position Report.xlsx", xlsxType, wb},
		testAttachment{"notes.pdf", "application/pdf", []byte("%PDF-1.4 fake")})
	m := mustParse(t, raw)
	if m.From != "jane.roe@agency.gov" || m.FromName != "Jane Roe" {
		t.Errorf("From = %q name %q", m.From, m.FromName)
	}
	if m.MessageID != "abc123@agency.gov" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if len(m.To) != 1 || m.To[0] != "allocation-management@opm.gov" {
		t.Errorf("To = %q", m.To)
	}
	if !m.Date.Equal(time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("Date = %v", m.Date)
	}
	if m.Text != "Please find our response attached.\n" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("attachments = %d, want 2 (%v)", len(m.Attachments), m.Problems)
	}
	a := m.Attachments[0]
	if a.Name != "Position Report.xlsx" || a.ContentType != xlsxType || !a.Spreadsheet() {
		t.Errorf("attachment = %q %q spreadsheet=%v", a.Name, a.ContentType, a.Spreadsheet())
	}
	if !bytes.Equal(a.Data, wb) || cellA3(t, a.Data) != "built" {
		t.Error("attachment bytes differ from the workbook sent")
	}
	if m.Attachments[1].Spreadsheet() {
		t.Error("a PDF counted as a spreadsheet")
	}
	if len(m.Problems) != 0 {
		t.Errorf("problems: %q", m.Problems)
	}
}

// outlookMessage is shaped like Outlook 16 output: CRLF, multipart/mixed
// around multipart/alternative, the workbook named in both Content-Type
// and Content-Disposition with size and dates.
func outlookMessage(wb []byte) string {
	return crlf(`Received: from CY8PR09MB1234.namprd09.prod.outlook.com by mx.opm.gov; Mon, 10 Mar 2025 09:31:02 -0400
From: "Doe, John (OCHCO)" <John.Doe@agency.gov>
To: "allocation-management@opm.gov" <allocation-management@opm.gov>
Subject: RE: SES Designation Review - Agency submission
Thread-Topic: SES Designation Review - Agency submission
Thread-Index: AdmZ1234567890abcdefg==
Date: Mon, 10 Mar 2025 13:30:59 +0000
Message-ID: <CY8PR09MB1234ABCD@CY8PR09MB1234.namprd09.prod.outlook.com>
In-Reply-To: <call-2025@opm.gov>
References: <memo-2025@opm.gov> <call-2025@opm.gov>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
Content-Type: multipart/mixed;
	boundary="_004_CY8PR09MB1234ABCD_"
MIME-Version: 1.0

--_004_CY8PR09MB1234ABCD_
Content-Type: multipart/alternative;
	boundary="_000_CY8PR09MB1234ABCD_"

--_000_CY8PR09MB1234ABCD_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Attached is our report.=20
Regards, John

--_000_CY8PR09MB1234ABCD_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Attached is our report.</p></body></html>

--_000_CY8PR09MB1234ABCD_--

--_004_CY8PR09MB1234ABCD_
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;
	name="SES Position Report FY25.xlsx"
Content-Description: SES Position Report FY25.xlsx
Content-Disposition: attachment;
	filename="SES Position Report FY25.xlsx"; size=`+fmt.Sprint(len(wb))+`;
	creation-date="Mon, 10 Mar 2025 13:29:00 GMT";
	modification-date="Mon, 10 Mar 2025 13:30:00 GMT"
Content-Transfer-Encoding: base64

`) + b64(wb) + crlf(`
--_004_CY8PR09MB1234ABCD_--
`)
}

// gmailMessage is shaped like Gmail output: LF-free CRLF, 0000 boundaries,
// X-Attachment-Id and Content-ID on the attachment.
func gmailMessage(wb []byte) string {
	return crlf(`MIME-Version: 1.0
Date: Tue, 11 Mar 2025 10:02:03 -0500
Message-ID: <CAF=abc+DEF@mail.gmail.com>
Subject: Weekly deferred resignation report
From: Pat Smith <pat.smith@agency.gov>
To: allocation-management@opm.gov
Cc: Deputy <deputy@agency.gov>, other@agency.gov
Content-Type: multipart/mixed; boundary="000000000000b1a2c305f0e1d2c3"

--000000000000b1a2c305f0e1d2c3
Content-Type: multipart/alternative; boundary="000000000000b1a2c105f0e1d2c1"

--000000000000b1a2c105f0e1d2c1
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Report for week 14 attached =E2=80=94 thanks.

--000000000000b1a2c105f0e1d2c1
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Report attached</div>

--000000000000b1a2c105f0e1d2c1--
--000000000000b1a2c305f0e1d2c3
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; 
	name="week14.xlsx"
Content-Disposition: attachment; filename="week14.xlsx"
Content-Transfer-Encoding: base64
Content-ID: <f_m123abc0>
X-Attachment-Id: f_m123abc0

`) + b64(wb) + crlf(`--000000000000b1a2c305f0e1d2c3--
`)
}

// forwardedMessage carries the workbook inside an attached message/rfc822.
func forwardedMessage(wb []byte) string {
	return crlf(`From: Assistant <assistant@agency.gov>
To: allocation-management@opm.gov
Subject: Fwd: SES report
Date: Wed, 12 Mar 2025 08:00:00 -0400
Message-ID: <fwd-1@agency.gov>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

Forwarding the director's report.

--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="SES report.eml"

From: Director <director@agency.gov>
To: assistant@agency.gov
Subject: SES report
Message-ID: <orig-1@agency.gov>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain

Inner text, not the message's own.

--inner
Content-Type: application/octet-stream; name="report.XLSX"
Content-Disposition: attachment; filename="report.XLSX"
Content-Transfer-Encoding: base64

`) + b64(wb) + crlf(`--inner--

--outer--
`)
}

func TestParse_clients(t *testing.T) {
	wb := mustXLSX(t, "clients")
	tests := []struct {
		name      string
		raw       string
		from      string
		text      string
		attName   string
		inReplyTo string
		cc        int
	}{
		{"outlook", outlookMessage(wb), "john.doe@agency.gov", "Attached is our report. \nRegards, John\n", "SES Position Report FY25.xlsx", "call-2025@opm.gov", 0},
		{"gmail", gmailMessage(wb), "pat.smith@agency.gov", "Report for week 14 attached — thanks.\n", "week14.xlsx", "", 2},
		{"forwarded", forwardedMessage(wb), "assistant@agency.gov", "Forwarding the director's report.\n", "report.XLSX", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, []byte(tt.raw))
			if m.From != tt.from {
				t.Errorf("From = %q, want %q", m.From, tt.from)
			}
			if m.Text != tt.text {
				t.Errorf("Text = %q, want %q", m.Text, tt.text)
			}
			if m.InReplyTo != tt.inReplyTo {
				t.Errorf("InReplyTo = %q, want %q", m.InReplyTo, tt.inReplyTo)
			}
			if len(m.Cc) != tt.cc {
				t.Errorf("Cc = %q", m.Cc)
			}
			var sheets []email.Attachment
			for _, a := range m.Attachments {
				if a.Spreadsheet() {
					sheets = append(sheets, a)
				}
			}
			if len(sheets) != 1 {
				t.Fatalf("spreadsheets = %d of %d attachments (problems %q)", len(sheets), len(m.Attachments), m.Problems)
			}
			if sheets[0].Name != tt.attName {
				t.Errorf("name = %q, want %q", sheets[0].Name, tt.attName)
			}
			if got := cellA3(t, sheets[0].Data); got != "clients" {
				t.Errorf("workbook A3 = %q", got)
			}
			if len(m.Problems) != 0 {
				t.Errorf("problems: %q", m.Problems)
			}
		})
	}
}

func TestParse_outlookReferences(t *testing.T) {
	m := mustParse(t, []byte(outlookMessage(mustXLSX(t, "x"))))
	if strings.Join(m.References, " ") != "memo-2025@opm.gov call-2025@opm.gov" {
		t.Errorf("References = %q", m.References)
	}
	if m.Header.Get("Thread-Topic") == "" {
		t.Error("Header lost Thread-Topic")
	}
}

func TestParse_filenames(t *testing.T) {
	tests := []struct {
		name, disposition, want string
	}{
		{"rfc2231 continuation", "attachment;\r\n filename*0*=UTF-8''Rapport%20d%C3%A9signation%20;\r\n filename*1*=SES%202025.xlsx", "Rapport désignation SES 2025.xlsx"},
		{"rfc2231 plain continuation", "attachment; filename*0=\"very long name of the \"; filename*1=\"agency report.xlsx\"", "very long name of the agency report.xlsx"},
		{"rfc2047 q", "attachment; filename=\"=?ISO-8859-1?Q?R=E9ponse_agence.xlsx?=\"", "Réponse agence.xlsx"},
		{"rfc2047 b utf8", "attachment; filename=\"=?UTF-8?B?5oql5ZGKLnhsc3g=?=\"", "报告.xlsx"},
		{"path stripped", "attachment; filename=\"..\\\\..\\\\windows\\\\evil.xlsx\"", "evil.xlsx"},
		{"unquoted spaces", "attachment; filename=My Agency Report.xlsx", "My Agency Report.xlsx"},
	}
	wb := mustXLSX(t, "names")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := crlf("From: a@agency.gov\nTo: b@opm.gov\nSubject: names\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: application/octet-stream\nContent-Disposition: ") +
				tt.disposition + crlf("\nContent-Transfer-Encoding: base64\n\n") + b64(wb) + crlf("--B--\n")
			m := mustParse(t, []byte(raw))
			if len(m.Attachments) != 1 {
				t.Fatalf("attachments = %d (%q)", len(m.Attachments), m.Problems)
			}
			a := m.Attachments[0]
			if a.Name != tt.want {
				t.Errorf("name = %q, want %q", a.Name, tt.want)
			}
			if !a.Spreadsheet() || !bytes.Equal(a.Data, wb) {
				t.Errorf("spreadsheet=%v, data equal=%v", a.Spreadsheet(), bytes.Equal(a.Data, wb))
			}
		})
	}
}

func TestParse_subjects(t *testing.T) {
	tests := []struct {
		name, subject, want string
	}{
		{"iso-8859-1 q", "=?ISO-8859-1?Q?R=E9ponse_de_l'agence?=", "Réponse de l'agence"},
		{"iso-8859-1 b", "=?iso-8859-1?B?UulzdW3p?=", "Résumé"},
		{"windows-1252 q", "=?windows-1252?Q?=93Quoted=94_=96_report?=", "“Quoted” – report"},
		{"raw 8-bit windows-1252", "\x93Smart\x94 quotes \x96 caf\xe9", "“Smart” quotes – café"},
		{"raw utf-8", "Résumé déjà", "Résumé déjà"},
		{"folded words", "=?UTF-8?Q?SES_?=\r\n =?UTF-8?Q?report?=", "SES report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: a@agency.gov\r\nSubject: " + tt.subject + "\r\n\r\nbody\r\n"
			m := mustParse(t, []byte(raw))
			if m.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.want)
			}
		})
	}
}

func TestParse_textCharsets(t *testing.T) {
	raw := "From: a@agency.gov\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=93Caf=E9=94\r\n"
	m := mustParse(t, []byte(raw))
	if m.Text != "“Café”\n" {
		t.Errorf("Text = %q", m.Text)
	}
	raw = "From: a@agency.gov\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nplain ascii\r\n"
	m = mustParse(t, []byte(raw))
	if m.Text != "plain ascii\n" {
		t.Errorf("unknown charset: Text = %q", m.Text)
	}
	if !hasProblem(m, "charset") {
		t.Errorf("unknown charset not reported: %q", m.Problems)
	}
}

func hasProblem(m *email.Message, sub string) bool {
	for _, p := range m.Problems {
		if strings.Contains(strings.ToLower(p), sub) {
			return true
		}
	}
	return false
}

func TestParse_missingFinalBoundary(t *testing.T) {
	wb := mustXLSX(t, "truncated")
	raw := crlf("From: a@agency.gov\nSubject: cut\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XYZ\n\n--XYZ\nContent-Type: text/plain\n\nfirst part\n--XYZ\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=r.xlsx\nContent-Transfer-Encoding: base64\n\n") + b64(wb)
	m := mustParse(t, []byte(raw))
	if m.Text != "first part" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, wb) {
		t.Fatalf("attachment not kept from truncated MIME: %d (%q)", len(m.Attachments), m.Problems)
	}
	if !hasProblem(m, "truncated") {
		t.Errorf("truncation not reported: %q", m.Problems)
	}
}

// nested builds a message whose multipart parts nest n levels deep, with an
// attachment in the innermost.
func nested(n int) []byte {
	var b strings.Builder
	b.WriteString("From: a@agency.gov\r\nSubject: deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/csv; name=deep.csv\r\n\r\na,b\r\n1,2\r\n--b%d--\r\n", n, n)
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return []byte(b.String())
}

func TestParse_depthLimit(t *testing.T) {
	lim := email.DefaultLimits()
	lim.MaxDepth = 5
	m, err := email.Parse(nested(3), lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "deep.csv" || !m.Attachments[0].Spreadsheet() {
		t.Fatalf("shallow nesting: attachments %v problems %q", m.Attachments, m.Problems)
	}
	m, err = email.Parse(nested(50), lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 0 {
		t.Errorf("attachment beyond depth %d kept", lim.MaxDepth)
	}
	if !hasProblem(m, "deeper than 5") {
		t.Errorf("depth not reported: %q", m.Problems)
	}
	if !m.Incomplete {
		t.Error("parts skipped for depth, but Incomplete is false")
	}
}

func TestParse_partLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@agency.gov\r\nSubject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=P\r\n\r\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "--P\r\nContent-Type: text/csv; name=f%d.csv\r\n\r\nx\r\n", i)
	}
	b.WriteString("--P--\r\n")
	lim := email.DefaultLimits()
	lim.MaxParts = 10
	m, err := email.Parse([]byte(b.String()), lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 10 {
		t.Errorf("attachments = %d, want the first 10", len(m.Attachments))
	}
	if !hasProblem(m, "more than 10 mime parts") {
		t.Errorf("part limit not reported: %q", m.Problems)
	}
	if !m.Incomplete {
		t.Error("parts skipped for their number, but Incomplete is false")
	}
}

func TestParse_sizeLimits(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000) // 10 kB
	raw := buildMessage(t, baseHeader(), "text",
		testAttachment{"a.csv", "text/csv", big},
		testAttachment{"b.csv", "text/csv", big[:4000]},
		testAttachment{"c.csv", "text/csv", big[:4000]},
		testAttachment{"d.csv", "text/csv", big[:1000]})
	lim := email.DefaultLimits()
	lim.MaxPartBytes = 5000
	lim.MaxAttachmentsBytes = 8500
	m, err := email.Parse(raw, lim)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Name)
	}
	// a is over the part limit; b and c fit; d would pass the total.
	if strings.Join(names, ",") != "b.csv,c.csv" {
		t.Errorf("kept %v (problems %q)", names, m.Problems)
	}
	if !hasProblem(m, "part limit") || !hasProblem(m, "total attachment limit") {
		t.Errorf("limits not reported: %q", m.Problems)
	}
	want := []email.Unread{{Name: "a.csv", ContentType: "text/csv", Limit: 5000}, {Name: "d.csv", ContentType: "text/csv", Limit: 500, Total: true}}
	if !reflect.DeepEqual(m.Unread, want) {
		t.Errorf("unread = %+v, want %+v", m.Unread, want)
	}
	for _, u := range m.Unread {
		if !u.Spreadsheet() {
			t.Errorf("%s not seen as a spreadsheet", u.Name)
		}
	}
	if m.Incomplete {
		t.Error("Incomplete set although every part was seen")
	}
}

func TestParse_headerLimit(t *testing.T) {
	raw := "From: a@agency.gov\r\nX-Junk: " + strings.Repeat("x", 100<<10) + "\r\n\r\nbody\r\n"
	if _, err := email.Parse([]byte(raw), email.DefaultLimits()); err == nil {
		t.Error("100 KiB header accepted over a 64 KiB limit")
	}
	part := crlf("From: a@agency.gov\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=H\n\n--H\nContent-Type: text/csv; name=a.csv\nX-Junk: ") +
		strings.Repeat("y", 100<<10) + crlf("\n\n1,2\n--H\nContent-Type: text/csv; name=b.csv\n\n3,4\n--H--\n")
	m := mustParse(t, []byte(part))
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "b.csv" {
		t.Errorf("part with a huge header not skipped: %v", m.Attachments)
	}
	if !m.Incomplete {
		t.Error("a part was skipped for its header, but Incomplete is false")
	}
}

func TestParse_noHeader(t *testing.T) {
	for name, raw := range map[string][]byte{
		"empty":       nil,
		"ole msg":     append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...),
		"plain text":  []byte("just some words\nand more\n"),
		"blank first": []byte("\r\n\r\nbody"),
	} {
		if m, err := email.Parse(raw, email.DefaultLimits()); err == nil {
			t.Errorf("%s: no error, message %+v", name, m)
		}
	}
}

func TestParse_headerOnlyAndMbox(t *testing.T) {
	m := mustParse(t, []byte("From MAILER-DAEMON  Sat Oct  4 08:00:09 2025\nReturn-Path: <>\nFrom: postmaster@example.de\nSubject: x"))
	if m.From != "postmaster@example.de" || !m.NullReturnPath || m.Subject != "x" {
		t.Errorf("mbox header: from %q null %v subject %q", m.From, m.NullReturnPath, m.Subject)
	}
}

func TestParse_bomAndIndent(t *testing.T) {
	for name, raw := range map[string]string{
		"bom":          "\xef\xbb\xbfFrom: a@agency.gov\r\nSubject: s\r\n\r\nbody",
		"bom and mbox": "\xef\xbb\xbfFrom -\r\nFrom: a@agency.gov\r\nSubject: s\r\n\r\nbody",
		"indented":     " From: a@agency.gov\r\nSubject: s\r\n\r\nbody",
	} {
		m, err := email.Parse([]byte(raw), email.DefaultLimits())
		if err != nil || m.From != "a@agency.gov" || m.Subject != "s" || m.Text != "body" {
			t.Errorf("%s: err %v, message %+v", name, err, m)
		}
	}
}

func TestParse_addressesLenient(t *testing.T) {
	raw := "From: Broken Name, Inc <Sender@Agency.gov>\r\nReply-To: <reply@agency.gov>\r\nSender: sec@agency.gov\r\nReturn-Path: <Bounce@Agency.gov>\r\nDelivered-To: intake@opm.gov\r\nX-Original-To: allocation-management@opm.gov\r\nDelivered-To: intake@opm.gov\r\n\r\n"
	m := mustParse(t, []byte(raw))
	if m.From != "sender@agency.gov" || m.ReplyTo != "reply@agency.gov" || m.Sender != "sec@agency.gov" || m.ReturnPath != "bounce@agency.gov" {
		t.Errorf("from %q reply-to %q sender %q return-path %q", m.From, m.ReplyTo, m.Sender, m.ReturnPath)
	}
	if strings.Join(m.DeliveredTo, ",") != "intake@opm.gov,allocation-management@opm.gov" {
		t.Errorf("DeliveredTo = %q", m.DeliveredTo)
	}
}
