package integration_test

import (
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"intake/parser/parsertest"
	"intake/store"
)

// Issue 14, item 1, against Debian's Postfix with OpenDKIM and OpenDMARC
// as its milters, in their default configuration (nothing stripped but
// what OpenDKIM removes by itself), as the attack found it: DHS signs its
// mail but publishes no DMARC record, so the receiving server stamps
// dmarc=none on everything. Mail in DHS's name that carries
// Authentication-Results of its own (the trusted id, any case, with or
// without Received fields of its own above them) is quarantined
// unanswered; DHS's signed mail is accepted on the receiving server's
// aligned dkim=pass. The results the daemon reads are the real verifiers'.
func TestForgedResultsThroughPostfix(t *testing.T) {
	ctx := context.Background()
	const bot, agency = "forged-bot@opm.gov", "chco@dhs.gov"
	key := newSigningKey(t, "dhs.gov")
	name, rec := key.record(t)
	ms := startMilters(t, milterOptions{DNS: map[string]string{name: rec}})
	dc := startDovecot(t, []string{bot, agency})
	pf := startPostfix(t, []string{"opm.gov", "dhs.gov"}, dc.lmtpPort, ms)
	st := startInProcess("none")(t, dc, pf, bot)

	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	mail := func(id string) submission {
		return submission{from: agency, to: bot, subject: "DHS SES report", messageID: id, file: "report.xlsx", data: wb}
	}
	forgeries := map[string]string{
		"dmarc-pass@dhs.gov": "Authentication-Results: " + receivingID + "; dmarc=pass header.from=dhs.gov\r\n",
		"upper-case@dhs.gov": "Authentication-Results: " + strings.ToUpper(receivingID) + "; dmarc=pass header.from=dhs.gov\r\n",
		"dkim-pass@dhs.gov":  "Authentication-Results: " + receivingID + "; dkim=pass header.d=dhs.gov\r\n",
		"own-received@dhs.gov": "Received: from mail.dhs.gov by " + receivingID + " (Postfix) with ESMTPS id 1A2B; Fri, 14 Mar 2025 13:00:01 +0000\r\n" +
			"Authentication-Results: " + receivingID + "; dkim=pass header.d=dhs.gov; dmarc=pass header.from=dhs.gov\r\n" +
			"Received: from laptop by mail.dhs.gov; Fri, 14 Mar 2025 12:59:58 +0000\r\n",
	}
	for id, fields := range forgeries {
		raw := append([]byte(fields), mail(id).raw(t)...)
		if err := smtp.SendMail(pf.smtpAddr, nil, "attacker@evil.example", []string{bot}, raw); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}
	if err := smtp.SendMail(pf.smtpAddr, nil, agency, []string{bot}, key.sign(t, mail("real@dhs.gov").raw(t))); err != nil {
		t.Fatal(err)
	}

	box := dc.login(t, bot)
	waitFor(t, 60*time.Second, "the forgeries quarantined and DHS's mail accepted", func() bool {
		return imapCount(box, "INBOX") == 0 && imapCount(box, "Quarantine") == len(forgeries) && imapCount(box, "Accepted") == 1
	})
	inbox := dc.login(t, agency)
	waitFor(t, 60*time.Second, "the acknowledgement in DHS's mailbox", func() bool { return imapCount(inbox, "INBOX") >= 1 })
	replies := imapFetchAll(t, inbox, "INBOX")
	if len(replies) != 1 || parseMail(t, replies[0]).InReplyTo != "real@dhs.gov" {
		t.Fatalf("%d replies in DHS's mailbox, want only the acknowledgement of real@dhs.gov", len(replies))
	}
	subs, err := st.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].MessageID != "real@dhs.gov" {
		t.Errorf("submissions %+v, want only DHS's real one", subs)
	}
	rejected, err := st.Messages(ctx, store.MessageFilter{Status: store.StatusRejected, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rejected {
		if _, ok := forgeries[m.MessageID]; !ok || !strings.Contains(m.Note, "sender authentication failed") {
			t.Errorf("rejected %s: %q", m.MessageID, m.Note)
		}
	}
	// The daemon read the verifiers' own results, not the forger's.
	for _, raw := range imapFetchAll(t, box, "Quarantine") {
		if h := headerBlock(raw); !strings.Contains(h, "Authentication-Results: "+receivingID+"; dmarc=none") {
			t.Errorf("a quarantined mail without OpenDMARC's dmarc=none:\n%s", h)
		}
	}
}
