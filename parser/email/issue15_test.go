package email_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"intake/internal/testenv"
	"intake/parser/email"
)

// TestParse_leadingLineOfSpaces (issue 15): a mail that begins with a
// line of nothing but spaces (flanker's iphone.eml and others) is read as
// Python's email package reads it: the header after that line.
func TestParse_leadingLineOfSpaces(t *testing.T) {
	wb := mustXLSX(t, "spaces")
	built := buildMessage(t, baseHeader(), "see attached", testAttachment{"report.xlsx", xlsxType, wb})
	for name, prefix := range map[string]string{
		"spaces CRLF":    "   \r\n",
		"spaces LF":      "    \n",
		"tab and spaces": " \t \r\n",
		"two lines":      "  \r\n \r\n",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := email.Parse(append([]byte(prefix), built...), email.DefaultLimits())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.From != "jane.roe@agency.gov" || m.MessageID != "abc123@agency.gov" || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, wb) {
				t.Fatalf("from %q, id %q, %d attachments; problems %q", m.From, m.MessageID, len(m.Attachments), m.Problems)
			}
			if !hasProblem(m, "line of spaces") {
				t.Errorf("problems %q do not mention the line of spaces", m.Problems)
			}
		})
	}
	if _, err := email.Parse([]byte("   \r\n  \r\n"), email.DefaultLimits()); err == nil {
		t.Error("spaces alone parsed as a message")
	}
}

// TestParse_filenamesInCharsets (issue 15): RFC 2231 file names in a
// charset other than UTF-8, single or continued over pieces, are decoded
// (mail-mime-parser's m3004.txt carries the first).
func TestParse_filenamesInCharsets(t *testing.T) {
	tests := []struct {
		name, disposition, want string
	}{
		{"iso-8859-1 quoted", `attachment; filename*="iso-8859-1''Hasen undFr%F6sche.xlsx"`, "Hasen undFrösche.xlsx"},
		{"iso-8859-1 unquoted", `attachment; filename*=ISO-8859-1'de'Stellen%FCbersicht.xlsx`, "Stellenübersicht.xlsx"},
		{"iso-8859-1 continued", "attachment;\r\n filename*0*=iso-8859-1''Positionen%20f%FCr%20;\r\n filename*1*=M%E4rz.xlsx", "Positionen für März.xlsx"},
		{"windows-1252 continued with a plain piece", "attachment; filename*0*=windows-1252''%80%20; filename*1=\"report.xlsx\"", "€ report.xlsx"},
		{"pieces out of order", "attachment; filename*1*=%E9.xlsx; filename*0*=iso-8859-1''r%E9sum", "résumé.xlsx"},
		{"utf-8 still", "attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.xlsx", "报告.xlsx"},
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
			if a := m.Attachments[0]; a.Name != tt.want || !a.Spreadsheet() {
				t.Errorf("name = %q, want %q", a.Name, tt.want)
			}
		})
	}
}

// TestAutoReplyReason_languages (issue 15): automatic replies in the
// languages of agencies' mail clients, and with the marker later in the
// subject, are recognised; subjects that only resemble them are not.
func TestAutoReplyReason_languages(t *testing.T) {
	from := "From: Jane <jane@agency.gov>"
	for _, tt := range []struct {
		subject string
		auto    bool
	}{
		{"Automatische Antwort: SES-Positionsbericht", true},
		{"Réponse automatique : Rapport SES", true},
		{"Réponse automatique\u00a0: Rapport SES", true},
		{"Respuesta automática: Informe SES", true},
		{"Abwesenheitsnotiz: Bericht", true},
		{"Automatyczna odpowiedź: raport", true},
		{"Risposta automatica: rapporto", true},
		{"Automatisch antwoord: rapport", true},
		{"AUTOMATIC REPLY: SES report", true},
		{"RE: Automatic reply: SES report", true},
		{"[EXTERNAL] Out of Office: SES report", true},
		{"Fwd: Auto: SES report", true},
		{"自動回覆: SES report", true},
		{"SES position report", false},
		{"Re: automatic reply handling in our SES report", false},
		{"Autos: fleet report", false},
		{"Position report: automated", false},
		{"Read receipts requested: SES report", false},
	} {
		got := email.AutoReplyReason(header(t, from, "Subject: "+mimeWord(tt.subject)), nil)
		if (got != "") != tt.auto {
			t.Errorf("%q: reason %q, want automatic %v", tt.subject, got, tt.auto)
		}
	}
}

// mimeWord encodes a subject as an RFC 2047 word when it is not ASCII.
func mimeWord(s string) string {
	var h mail.Header
	h.SetSubject(s)
	var b bytes.Buffer
	fields := h.Fields()
	for fields.Next() {
		raw, _ := fields.Raw()
		b.Write(raw)
	}
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "Subject: "))
}

// TestAutoReplyReason_readReceipts (issue 15): a read receipt is never
// answered: an RFC 8098 one (multipart/report, or a
// message/disposition-notification part in a mixed mail), and Outlook's
// sent as ordinary mail with a TNEF attachment whose message class is
// REPORT.IPM.Note.IPNRN, by its structure whatever its subject; a mail
// that forwards a read receipt is not one.
func TestAutoReplyReason_readReceipts(t *testing.T) {
	shared := testenv.Shared(t)
	mdn, err := os.ReadFile(filepath.Join(shared, "corpus", "email", "mimekit", "messages", "disposition-notification.txt"))
	if err != nil {
		testenv.Missing(t, "the email corpus")
	}
	if got := email.AutoReplyReason(mustParse(t, mdn), nil); got == "" {
		t.Error("an RFC 8098 read receipt may be answered")
	}
	// The disposition-notification part in a multipart/mixed mail.
	mixed := bytes.Replace(mdn, []byte("multipart/report; report-type=disposition-notification;"), []byte("multipart/mixed;"), 1)
	if got := email.AutoReplyReason(mustParse(t, mixed), nil); !strings.Contains(got, "read receipt") {
		t.Errorf("mixed: reason %q", got)
	}
	// Forwarded: the receipt is inside an attached message.
	fwd := buildMessage(t, baseHeader(), "FYI", testAttachment{"receipt.eml", "message/rfc822", mixed})
	if got := email.AutoReplyReason(mustParse(t, fwd), nil); got != "" {
		t.Errorf("a forwarded read receipt counts as one: %q", got)
	}

	// Outlook: a real TNEF stream (Roundcube's test mail), its message
	// class made a read notification's.
	tnef := tnefOf(t, filepath.Join(shared, "corpus", "email", "roundcube", "message-rendering", "tnef1.eml"))
	receipt := withMessageClass(t, tnef, "REPORT.IPM.Note.IPNRN")
	for _, subject := range []string{"Read: SES position report", "Gelesen: SES-Bericht", "SES position report"} {
		h := baseHeader()
		h.SetSubject(subject)
		raw := buildMessage(t, h, "Your message was read.", testAttachment{"winmail.dat", "application/ms-tnef", receipt})
		if got := email.AutoReplyReason(mustParse(t, raw), nil); !strings.Contains(got, "IPNRN") {
			t.Errorf("%q: reason %q", subject, got)
		}
		plain := buildMessage(t, h, "Report attached.", testAttachment{"winmail.dat", "application/ms-tnef", tnef})
		got := email.AutoReplyReason(mustParse(t, plain), nil)
		if strings.HasPrefix(subject, "SES") && got != "" {
			t.Errorf("an ordinary TNEF mail is refused: %q", got)
		}
		if !strings.HasPrefix(subject, "SES") && got == "" {
			t.Errorf("%q with only a TNEF attachment: answered", subject)
		}
	}
	// By subject alone, only a mail without a workbook is a read receipt.
	h := baseHeader()
	h.SetSubject("Read: SES position report")
	withWorkbook := buildMessage(t, h, "Attached.", testAttachment{"report.xlsx", xlsxType, mustXLSX(t, "read")})
	if got := email.AutoReplyReason(mustParse(t, withWorkbook), nil); got != "" {
		t.Errorf("a workbook under a Read: subject is refused: %q", got)
	}
}

// tnefOf returns the winmail.dat attachment of a mail.
func tnefOf(tb testing.TB, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		testenv.Missing(tb, "the email corpus")
	}
	for _, a := range mustParse(tb, raw).Attachments {
		if a.ContentType == "application/ms-tnef" {
			return a.Data
		}
	}
	tb.Fatal("no TNEF attachment")
	return nil
}

// withMessageClass rewrites the message class attribute of a TNEF stream
// (MS-OXTNEF 2.1.3.1: level, id, length, data, checksum), framing kept.
func withMessageClass(tb testing.TB, tnef []byte, class string) []byte {
	tb.Helper()
	out := append([]byte(nil), tnef[:6]...)
	b, found := tnef[6:], false
	for len(b) >= 9 {
		n := binary.LittleEndian.Uint32(b[5:9])
		attr := b[:9+n+2]
		if b[0] == 1 && binary.LittleEndian.Uint32(b[1:5]) == 0x00078008 {
			data := append([]byte(class), 0)
			sum := 0
			for _, c := range data {
				sum += int(c)
			}
			attr = binary.LittleEndian.AppendUint32(append([]byte(nil), b[:5]...), uint32(len(data)))
			attr = binary.LittleEndian.AppendUint16(append(attr, data...), uint16(sum))
			found = true
		}
		out = append(out, attr...)
		b = b[9+n+2:]
	}
	if !found {
		tb.Fatal("the TNEF stream has no message class")
	}
	return out
}
