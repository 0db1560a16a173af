package email_test

import (
	"strings"
	"testing"

	"intake/parser/email"
)

// header parses a header-only message made of the given lines.
func header(tb testing.TB, lines ...string) *email.Message {
	tb.Helper()
	return mustParse(tb, []byte(strings.Join(lines, "\r\n")+"\r\n\r\nbody\r\n"))
}

func TestAutoReplyReason(t *testing.T) {
	own := []string{"Allocation-Management@opm.gov", "intake@opm.gov"}
	from := "From: Jane <jane@agency.gov>"
	tests := []struct {
		name  string
		lines []string
		want  string // substring of the reason; "" = reply allowed
	}{
		{"ordinary", []string{from, "Return-Path: <jane@agency.gov>", "Subject: SES report"}, ""},
		{"auto-submitted no", []string{from, "Auto-Submitted: no"}, ""},
		{"auto-replied", []string{from, "Auto-Submitted: auto-replied"}, "auto-submitted: auto-replied"},
		{"auto-generated with comment", []string{from, "Auto-Submitted: Auto-Generated; owner-email=x"}, "auto-generated"},
		{"precedence bulk", []string{from, "Precedence: bulk"}, "precedence: bulk"},
		{"precedence list", []string{from, "Precedence: LIST"}, "precedence: list"},
		{"precedence junk", []string{from, "Precedence: junk"}, "precedence: junk"},
		{"precedence first-class", []string{from, "Precedence: first-class"}, ""},
		{"x-loop own", []string{from, "X-Loop: intake@opm.gov"}, "x-loop"},
		{"x-loop other", []string{from, "X-Loop: helpdesk@agency.gov"}, ""},
		{"list-id", []string{from, "List-Id: <ses.lists.agency.gov>"}, "mailing list"},
		{"list-unsubscribe", []string{from, "List-Unsubscribe: <mailto:u@agency.gov>"}, "mailing list"},
		{"x-autoreply", []string{from, "X-Autoreply: yes"}, "x-autoreply"},
		{"x-autorespond", []string{from, "X-Autorespond: vacation"}, "x-autorespond"},
		{"ms suppress all", []string{from, "X-Auto-Response-Suppress: All"}, "x-auto-response-suppress"},
		{"ms suppress autoreply", []string{from, "X-Auto-Response-Suppress: DR, AutoReply"}, "x-auto-response-suppress"},
		{"ms suppress rn only", []string{from, "X-Auto-Response-Suppress: RN, NRN"}, ""},
		{"mailer-daemon", []string{"From: Mail Delivery System <MAILER-DAEMON@mx.agency.gov>"}, "robot sender"},
		{"postmaster", []string{"From: postmaster@agency.gov"}, "robot sender"},
		{"noreply", []string{"From: no-reply@agency.gov"}, "robot sender"},
		{"noreply plain", []string{"From: noreply@agency.gov"}, "robot sender"},
		{"empty return path", []string{from, "Return-Path: <>"}, "empty return path"},
		{"own from", []string{"From: intake@OPM.gov"}, "own address"},
		{"no from", []string{"Subject: x"}, "no from"},
		{"report", []string{from, "Content-Type: multipart/report; report-type=delivery-status; boundary=x"}, "report"},
		{"apple vacation", []string{from, "X-Apple-Action: VACATION"}, "vacation"},
		{"outlook oof subject", []string{from, "Subject: Automatic reply: SES report"}, "automatic reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := email.AutoReplyReason(header(t, tt.lines...), own)
			if tt.want == "" && got != "" {
				t.Errorf("reply refused: %q", got)
			}
			if tt.want != "" && !strings.Contains(strings.ToLower(got), tt.want) {
				t.Errorf("reason = %q, want it to mention %q", got, tt.want)
			}
		})
	}
}

func TestDedupeKey(t *testing.T) {
	body := "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe report.\r\n"
	content := "From: Jane <jane@agency.gov>\r\nTo: allocation-management@opm.gov\r\nSubject: SES report\r\nDate: Mon, 10 Mar 2025 09:30:00 -0400\r\nMessage-ID: <m1@agency.gov>\r\n" + body
	first := "Return-Path: <jane@agency.gov>\r\nDelivered-To: allocation-management@opm.gov\r\nReceived: from a by b; Mon, 10 Mar 2025 09:30:01 -0400\r\nAuthentication-Results: mx.opm.gov; dmarc=pass\r\n" + content
	second := "Return-Path: <jane@agency.gov>\r\nX-Original-To: intake@opm.gov\r\nDelivered-To: intake@opm.gov\r\nReceived: from c by d; Mon, 10 Mar 2025 09:30:05 -0400\r\nReceived: from a by b; Mon, 10 Mar 2025 09:30:01 -0400\r\nAuthentication-Results: mx2.opm.gov; dmarc=pass\r\n" + content
	lf := strings.ReplaceAll(first, "\r\n", "\n")
	otherBody := strings.Replace(first, "The report.", "The corrected report.", 1)
	noID := strings.Replace(first, "Message-ID: <m1@agency.gov>\r\n", "", 1)
	noIDOther := strings.Replace(noID, "The report.", "Another report.", 1)
	otherDate := strings.Replace(first, "09:30:00", "10:45:00", 1)
	k := email.DedupeKey([]byte(first))
	if len(k) != 64 {
		t.Fatalf("key %q is not a hex SHA-256", k)
	}
	same := map[string]string{"second delivery": second, "LF line ends": lf}
	for name, raw := range same {
		if email.DedupeKey([]byte(raw)) != k {
			t.Errorf("%s: key differs for the same mail", name)
		}
	}
	differ := map[string]string{"reused Message-ID, other body": otherBody, "other date": otherDate}
	for name, raw := range differ {
		if email.DedupeKey([]byte(raw)) == k {
			t.Errorf("%s: same key for a different mail", name)
		}
	}
	if email.DedupeKey([]byte(noID)) == email.DedupeKey([]byte(noIDOther)) {
		t.Error("missing Message-ID: two different mails share a key")
	}
	if email.DedupeKey([]byte("\x00\x01 not a mail")) == email.DedupeKey([]byte("\x00\x02 not a mail")) {
		t.Error("headerless input: different inputs share a key")
	}
}

func TestSanitizeFilename(t *testing.T) {
	long := strings.Repeat("a", 300) + ".xlsx"
	tests := []struct{ in, want string }{
		{"report.xlsx", "report.xlsx"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\jd\Desktop\SES report.xlsx`, "SES report.xlsx"},
		{"evil\u202Excod.xlsx", "evilxcod.xlsx"},
		{"tab\tand\nnewline.csv", "tab and newline.csv"},
		{"  .hidden.xlsx  ", "hidden.xlsx"},
		{"what?*<>|.xlsx", "what_____.xlsx"},
		{"", "attachment"},
		{"/", "attachment"},
		{"...", "attachment"},
		{"CON.xlsx", "_CON.xlsx"},
		{"bad\xffutf8.csv", "badutf8.csv"},
		{long, strings.Repeat("a", 123) + ".xlsx"},
	}
	for _, tt := range tests {
		if got := email.SanitizeFilename(tt.in); got != tt.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := email.SanitizeFilename(strings.Repeat("é", 200) + ".xlsm"); len(got) > 128 || !strings.HasSuffix(got, "é.xlsm") {
		t.Errorf("multibyte long name: %q (%d bytes)", got, len(got))
	}
}

func TestAttachmentSpreadsheet(t *testing.T) {
	tests := []struct {
		name, ct string
		want     bool
	}{
		{"a.xlsx", "application/octet-stream", true},
		{"A.XLSM", "application/octet-stream", true},
		{"old.xls", "application/vnd.ms-excel", true},
		{"data.csv", "text/plain", true},
		{"noname", xlsxType, true},
		{"noname", "text/csv", true},
		{"memo.pdf", "application/pdf", false},
		{"report.xlsx.exe", "application/octet-stream", false},
		{"image.png", "image/png", false},
	}
	for _, tt := range tests {
		if got := (email.Attachment{Name: tt.name, ContentType: tt.ct}).Spreadsheet(); got != tt.want {
			t.Errorf("%q %q: Spreadsheet() = %v", tt.name, tt.ct, got)
		}
	}
}
