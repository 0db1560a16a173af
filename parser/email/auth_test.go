package email_test

import (
	"strings"
	"testing"

	"intake/parser/email"
)

// The receiving server's trace, as it prepends it: its Authentication-Results
// above its own Received field. What follows rcvd is the sender's.
const (
	rcvd   = "Received: from mail.hr.agency.gov (mail.hr.agency.gov [192.0.2.7]) by mx.opm.gov (Postfix) with ESMTPS id 4XyZ; Mon, 10 Mar 2025 09:30:01 -0400"
	lmtp   = "Received: from mx.opm.gov by store.opm.gov with LMTP id abc; Mon, 10 Mar 2025 09:30:02 -0400"
	fromHR = "From: Jane <jane@hr.agency.gov>"
)

func TestAuthenticate(t *testing.T) {
	trusted := email.AuthPolicy{TrustedAuthServID: "mx.opm.gov"}
	twoHops := email.AuthPolicy{TrustedAuthServID: "mx.opm.gov", ReceivedHops: 2}
	tests := []struct {
		name   string
		policy email.AuthPolicy
		lines  []string
		pass   bool
		method string
		reason string
	}{
		{"not configured", email.AuthPolicy{}, []string{rcvd, fromHR}, false, "", "no trusted authserv-id"},
		{"dmarc pass", trusted, []string{"Authentication-Results: mx.opm.gov; spf=pass smtp.mailfrom=agency.gov; dkim=pass header.d=agency.gov; dmarc=pass (p=reject dis=none) header.from=hr.agency.gov", rcvd, fromHR}, true, "dmarc", ""},
		{"dkim aligned relaxed", trusted, []string{"Authentication-Results: mx.opm.gov; dkim=pass (2048-bit key; unprotected) header.d=agency.gov header.s=sel", rcvd, fromHR}, true, "dkim-aligned", ""},
		{"dkim unaligned", trusted, []string{"Authentication-Results: mx.opm.gov; dkim=pass header.d=mailer.example.com", rcvd, fromHR}, false, "", "no dmarc"},
		{"dkim public suffix only", trusted, []string{"Authentication-Results: mx.opm.gov; dkim=pass header.d=gov", rcvd, "From: a@agency.gov"}, false, "", "no dmarc"},
		{"dmarc fail beats dkim", trusted, []string{"Authentication-Results: mx.opm.gov; dkim=pass header.d=hr.agency.gov; dmarc=fail header.from=hr.agency.gov", rcvd, fromHR}, false, "", "dmarc=fail"},
		{"dmarc for other domain ignored", trusted, []string{"Authentication-Results: mx.opm.gov; dmarc=pass header.from=evil.example", rcvd, fromHR}, false, "", "no dmarc"},
		{"other id", trusted, []string{"Authentication-Results: mx.evil.example; dmarc=pass header.from=hr.agency.gov", rcvd, fromHR}, false, "", "no Authentication-Results of mx.opm.gov above"},
		{"other id above a trusted fail", trusted, []string{
			"Authentication-Results: mx.evil.example; dmarc=pass header.from=hr.agency.gov",
			"Authentication-Results: mx.opm.gov; spf=fail smtp.mailfrom=hr.agency.gov; dmarc=fail header.from=hr.agency.gov", rcvd, fromHR}, false, "", "dmarc=fail"},
		{"id case and version", trusted, []string{"Authentication-Results: MX.OPM.GOV 1; dmarc=pass header.from=hr.agency.gov", rcvd, fromHR}, true, "dmarc", ""},
		{"no results", trusted, []string{rcvd, fromHR}, false, "", "no Authentication-Results"},
		{"microsoft style", trusted, []string{"Authentication-Results: mx.opm.gov; spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=hr.agency.gov; dkim=pass (signature was verified) header.d=hr.agency.gov;dmarc=pass action=none header.from=hr.agency.gov;compauth=pass reason=100", rcvd, fromHR}, true, "dmarc", ""},
		{"comment with semicolon", trusted, []string{"Authentication-Results: mx.opm.gov; spf=none (a; b) smtp.mailfrom=x; dmarc=pass header.from=hr.agency.gov", rcvd, fromHR}, true, "dmarc", ""},

		// Issue 14, item 1: fields the sender wrote, under the receiving
		// server's Received field, never count.
		{"forged dmarc pass, server adds nothing", trusted, []string{rcvd,
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", fromHR}, false, "", "1 Authentication-Results of mx.opm.gov below it ignored"},
		{"forged dmarc pass under the server's dmarc=none", trusted, []string{
			"Authentication-Results: mx.opm.gov; dkim=none; dmarc=none header.from=hr.agency.gov", rcvd,
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", fromHR}, false, "", "dmarc=none"},
		{"forged dkim pass under the server's dmarc=none", trusted, []string{
			"Authentication-Results: mx.opm.gov; dmarc=none header.from=hr.agency.gov", rcvd,
			"Authentication-Results: mx.opm.gov; dkim=pass header.d=hr.agency.gov", fromHR}, false, "", "no dmarc or aligned dkim pass"},
		{"forged id upper-cased", trusted, []string{rcvd,
			"Authentication-Results: MX.OPM.GOV; dmarc=pass header.from=hr.agency.gov", fromHR}, false, "", "below it ignored"},
		{"forged under a Received of the sender's own", trusted, []string{rcvd,
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov",
			"Received: from laptop by mail.hr.agency.gov; Mon, 10 Mar 2025 09:29:00 -0400", fromHR}, false, "", "below it ignored"},
		{"no Received at all", trusted, []string{"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", fromHR}, false, "", "fewer than the 1"},

		// Two hops of ours (the border MTA, then LMTP into the store).
		{"two hops: pass between them", twoHops, []string{lmtp,
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", rcvd,
			"Authentication-Results: mx.opm.gov; dmarc=fail header.from=hr.agency.gov", fromHR}, true, "dmarc", ""},
		{"two hops: forged under the border", twoHops, []string{lmtp,
			"Authentication-Results: mx.opm.gov; dmarc=none header.from=hr.agency.gov", rcvd,
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", fromHR}, false, "", "dmarc=none"},
		{"two hops: only one Received", twoHops, []string{
			"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", rcvd, fromHR}, false, "", "fewer than the 2"},

		// Issue 14, item 3: one author only.
		{"two addresses in one angle pair", trusted, []string{"Authentication-Results: mx.opm.gov; dmarc=pass header.from=dhs.gov", rcvd, "From: <x@evil.example, y@dhs.gov>"}, false, "", "names 2 addresses"},
		{"two authors", trusted, []string{"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", rcvd, "From: jane@hr.agency.gov, x@evil.example"}, false, "", "names 2 addresses"},
		{"two From fields", trusted, []string{"Authentication-Results: mx.opm.gov; dmarc=pass header.from=hr.agency.gov", rcvd, fromHR, "From: x@evil.example"}, false, "", "2 From fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := email.Authenticate(header(t, tt.lines...), tt.policy)
			if v.Pass != tt.pass || v.Method != tt.method {
				t.Errorf("verdict %+v, want pass=%v method=%q", v, tt.pass, tt.method)
			}
			if tt.reason != "" && !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("reason %q, want it to mention %q", v.Reason, tt.reason)
			}
		})
	}
}

// Issue 14, item 3: a From the strict parser refuses is still read as the
// addresses it holds, never as one string whose last @ names an agency.
func TestFromProblem(t *testing.T) {
	tests := []struct {
		from    string
		problem string // substring; "" = one author
		domain  string // of Message.From when there is one author
	}{
		{"From: Jane <jane@dhs.gov>", "", "dhs.gov"},
		{"From: =?utf-8?q?J=C3=A9r=C3=B4me?= <jerome@dhs.gov>", "", "dhs.gov"},
		{"From: <x@evil.example, y@dhs.gov>", "2 addresses", ""},
		{"From: Boss <x@evil.example y@dhs.gov>", "2 addresses", ""},
		{"From: <x@evil.example;y@dhs.gov>", "2 addresses", ""},
		{"From: a@dhs.gov, b@dhs.gov", "2 addresses", ""},
		{"From: Group: a@dhs.gov, b@evil.example;", "2 addresses", ""},
		{"From: <x@evil.example@dhs.gov>", "not an address", ""},
		{"From: Nobody <>", "no readable address", ""},
		{"Subject: no from", "no From field", ""},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			m := header(t, tt.from)
			got := m.FromProblem()
			if tt.problem == "" && got != "" || tt.problem != "" && !strings.Contains(got, tt.problem) {
				t.Fatalf("FromProblem() = %q, want %q", got, tt.problem)
			}
			if tt.problem == "" && email.DomainOf(m.From) != tt.domain {
				t.Errorf("From = %q, want an address at %s", m.From, tt.domain)
			}
		})
	}
}
