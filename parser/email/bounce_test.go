package email_test

import (
	"strings"
	"testing"

	"intake/parser/email"
)

// dsn builds a multipart/report delivery-status message returning the
// headers of our reply <reply-1@intake.opm.gov>.
func dsn(action, status string) string {
	return crlf(`Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.agency.gov>
To: allocation-management@opm.gov
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

This is the mail system at host mx.agency.gov.

--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.agency.gov

Final-Recipient: rfc822; Jane.Roe@agency.gov
Original-Recipient: rfc822;jane.roe@agency.gov
` + actionLine(action) + `Status: ` + status + `
Diagnostic-Code: smtp; 550 5.1.1 <jane.roe@agency.gov>: Recipient address rejected: User unknown

--R
Content-Type: text/rfc822-headers

From: allocation-management@opm.gov
To: jane.roe@agency.gov
Subject: Re: SES report [SES-2025-000042]
Message-ID: <reply-1@intake.opm.gov>

--R--
`)
}

func actionLine(action string) string {
	if action == "" {
		return ""
	}
	return "Action: " + action + "\n"
}

// A forwarded mail's DSN names the recipient as first addressed too.
func TestParseBounce_originalRecipient(t *testing.T) {
	raw := []byte(strings.Replace(dsn("failed", "5.1.1"), "Original-Recipient: rfc822;jane.roe@agency.gov", "Original-Recipient: rfc822;<Chco@HQ.agency.gov>", 1))
	b, ok := email.ParseBounce(nil, raw)
	if !ok || b.Recipient != "jane.roe@agency.gov" || b.OriginalRecipient != "chco@hq.agency.gov" {
		t.Errorf("got %+v, %v", b, ok)
	}
	if b, _ := email.ParseBounce(nil, []byte(dsn("failed", "5.1.1"))); b.OriginalRecipient != "" {
		t.Errorf("original recipient %q, the same as the final one", b.OriginalRecipient)
	}
}

func TestParseBounce(t *testing.T) {
	wb := mustXLSX(t, "bounce")
	tests := []struct {
		name      string
		raw       string
		bounce    bool
		id        string
		recipient string
		status    string
		permanent bool
	}{
		{"dsn failed", dsn("failed", "5.1.1"), true, "reply-1@intake.opm.gov", "jane.roe@agency.gov", "5.1.1", true},
		{"dsn delayed", dsn("delayed", "4.4.1"), true, "reply-1@intake.opm.gov", "jane.roe@agency.gov", "4.4.1", false},
		// Issue 14: RFC 3464's own example (appendix C) reports a final
		// failure with a 4.0.0 status; Action: failed is final.
		{"dsn failed with a 4.x.x status", dsn("failed", "4.0.0"), true, "reply-1@intake.opm.gov", "jane.roe@agency.gov", "4.0.0", true},
		{"dsn without action, 4.x.x", dsn("", "4.4.7"), true, "reply-1@intake.opm.gov", "jane.roe@agency.gov", "4.4.7", false},
		{"dsn delivered", dsn("delivered", "2.0.0"), false, "", "", "", false},
		{"qmail inline", crlf(`Return-Path: <>
From: MAILER-DAEMON@mail.agency.gov
To: allocation-management@opm.gov
Subject: failure notice

Hi. This is the qmail-send program at mail.agency.gov.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<jdoe@agency.gov>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <allocation-management@opm.gov>
From: allocation-management@opm.gov
Message-ID: <reply-2@intake.opm.gov>
Subject: Re: report
`), true, "reply-2@intake.opm.gov", "jdoe@agency.gov", "5.1.1", true},
		{"exchange with attached original", crlf(`Return-Path: <>
From: postmaster@agency.gov
To: allocation-management@opm.gov
Subject: Undeliverable: Re: SES report
X-Failed-Recipients: gone@agency.gov
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="E"

--E
Content-Type: text/plain

Delivery has failed to these recipients or groups: gone@agency.gov

--E
Content-Type: message/rfc822

From: allocation-management@opm.gov
To: gone@agency.gov
Subject: Re: SES report
Message-ID: <reply-3@intake.opm.gov>
Content-Type: text/plain

Deficiency notice.
--E--
`), true, "reply-3@intake.opm.gov", "gone@agency.gov", "", true},
		{"forwarded bounce is an agency mail", crlf(`From: Jane <jane@agency.gov>
To: allocation-management@opm.gov
Subject: Fwd: Undeliverable: SES report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="F"

--F
Content-Type: text/plain

Our report again, the first one bounced.

--F
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="r.xlsx"
Content-Transfer-Encoding: base64

`) + b64(wb) + crlf(`--F--
`), false, "", "", "", false},
		{"forwarded dsn is an agency mail", crlf(`From: Jane <jane@agency.gov>
To: allocation-management@opm.gov
Subject: Your reply bounced, see below
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="G"

--G
Content-Type: text/plain

FYI.

--G
Content-Type: message/rfc822

`) + dsn("failed", "5.1.1") + crlf(`
--G--
`), false, "", "", "", false},
		{"read receipt", crlf(`From: jane@agency.gov
Subject: Read: SES report
Content-Type: multipart/report; report-type=disposition-notification; boundary="D"

--D
Content-Type: message/disposition-notification

Final-Recipient: rfc822; jane@agency.gov
Disposition: manual-action/MDN-sent-manually; displayed

--D--
`), false, "", "", "", false},
		{"ordinary mail", string(buildMessage(t, baseHeader(), "report", testAttachment{"r.xlsx", xlsxType, wb})), false, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			for _, m := range []*email.Message{mustParse(t, raw), nil} {
				b, ok := email.ParseBounce(m, raw)
				if ok != tt.bounce {
					t.Fatalf("bounce = %v, want %v (%+v)", ok, tt.bounce, b)
				}
				if !ok {
					continue
				}
				if b.ReplyMessageID != tt.id || b.Recipient != tt.recipient || b.Status != tt.status || b.Permanent != tt.permanent {
					t.Errorf("got %+v, want id %q recipient %q status %q permanent %v", b, tt.id, tt.recipient, tt.status, tt.permanent)
				}
				if b.Reason == "" {
					t.Error("no reason")
				}
			}
		})
	}
}
