package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"

	"intake/parser/email"
)

// Resolver looks up DNS TXT records: the DKIM keys and DMARC records the
// daemon checks mail with when it verifies senders itself (auth mode
// verify). *net.Resolver satisfies it; tests serve their own records.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

var _ Resolver = (*net.Resolver)(nil)

// maxDKIMSignatures bounds the signatures verified per message (each may
// cost a DNS lookup and an RSA verification).
const maxDKIMSignatures = 5

// checkAuthMode refuses a policy that would let a forged sender in
// unnoticed: an unknown mode, AuthServer without an authserv-id, and
// AuthNone unless both mail servers are on loopback (only a test setup
// can vouch for every sender).
func checkAuthMode(o Options) error {
	switch o.Auth.Effective() {
	case email.AuthServer:
		if strings.TrimSpace(o.Auth.TrustedAuthServID) == "" {
			return errors.New("intake: auth mode authserv needs the trusted authserv-id of the receiving server")
		}
	case email.AuthVerify:
	case email.AuthNone:
		var far []string
		if !loopbackHost(hostOf(o.IMAP.Addr)) {
			far = append(far, "IMAP "+o.IMAP.Addr)
		}
		if !loopbackHost(o.SMTP.Host) {
			far = append(far, "SMTP "+o.SMTP.Host)
		}
		if len(far) > 0 {
			return fmt.Errorf("intake: auth mode none (no sender authentication) is only for test servers on loopback, and %s is not", strings.Join(far, " and "))
		}
	default:
		return fmt.Errorf("intake: unknown auth mode %q (authserv, verify or none)", o.Auth.Mode)
	}
	if o.Auth.ReceivedHops < 0 {
		return fmt.Errorf("intake: auth received hops %d is negative", o.Auth.ReceivedHops)
	}
	return nil
}

// loopbackHost reports whether host is "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// authenticate decides whether the From address of msg may be believed,
// the way the policy says. An error is a temporary failure (DNS
// unavailable): the message is tried again later, never refused for it.
func (d *Daemon) authenticate(ctx context.Context, msg *email.Message, raw []byte) (email.AuthVerdict, error) {
	if p := msg.FromProblem(); p != "" {
		return email.AuthVerdict{Reason: p}, nil
	}
	switch d.o.Auth.Effective() {
	case email.AuthNone:
		return email.AuthVerdict{Pass: true, Reason: "sender authentication is off (auth mode none)"}, nil
	case email.AuthServer:
		return email.Authenticate(msg, d.o.Auth), nil
	default:
		return d.verifySender(ctx, msg, raw)
	}
}

// verifySender verifies the DKIM signatures of raw itself (RFC 6376) and
// passes the message when one of them is valid and aligned with the From
// domain as that domain's DMARC record asks (RFC 7489 section 3.1.1:
// relaxed unless adkim=s; relaxed when the domain publishes no record).
// The bot cannot check SPF (it never sees the sending server), so DKIM is
// the only way in. Unsigned mail is refused without a DNS lookup.
func (d *Daemon) verifySender(ctx context.Context, msg *email.Message, raw []byte) (email.AuthVerdict, error) {
	lookup := func(name string) ([]string, error) { return d.o.Resolver.LookupTXT(ctx, name) }
	from := email.DomainOf(msg.From)
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: maxDKIMSignatures})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return email.AuthVerdict{Reason: "dkim: " + err.Error()}, nil
	}
	var valid, failed []string
	for _, v := range verifs {
		switch {
		case v.Err == nil:
			valid = append(valid, strings.ToLower(v.Domain))
		case dkim.IsTempFail(v.Err):
			return email.AuthVerdict{}, fmt.Errorf("auth: dkim d=%s: %w", v.Domain, v.Err)
		default:
			failed = append(failed, fmt.Sprintf("d=%s: %v", v.Domain, v.Err))
		}
	}
	if len(valid) == 0 {
		reason := "no valid DKIM signature"
		if len(failed) > 0 {
			reason += " (" + strings.Join(failed, "; ") + ")"
		}
		return email.AuthVerdict{Reason: reason}, nil
	}
	rec, err := d.dmarcRecord(from, lookup)
	if err != nil {
		return email.AuthVerdict{}, err
	}
	strict := rec != nil && rec.DKIMAlignment == dmarc.AlignmentStrict
	for _, dom := range valid {
		if email.Aligned(dom, from, strict) {
			if rec == nil {
				return email.AuthVerdict{Pass: true, Method: "dkim-aligned", Reason: "verified: dkim=pass d=" + dom + " aligned with " + from + " (no DMARC record)"}, nil
			}
			return email.AuthVerdict{Pass: true, Method: "dmarc", Reason: "verified: dmarc=pass for " + from + " (dkim d=" + dom + ")"}, nil
		}
	}
	mode := "relaxed"
	if strict {
		mode = "strict"
	}
	return email.AuthVerdict{Reason: fmt.Sprintf("no DKIM signature aligned (%s) with %s: signed by %s", mode, from, strings.Join(valid, ", "))}, nil
}

// dmarcRecord returns the DMARC record that applies to the From domain:
// its own, else its organisational domain's (RFC 7489 section 6.6.3), or
// nil when neither publishes one. An error is temporary.
func (d *Daemon) dmarcRecord(from string, lookup func(string) ([]string, error)) (*dmarc.Record, error) {
	names := []string{from}
	if org := email.OrganizationalDomain(from); org != from {
		names = append(names, org)
	}
	for _, name := range names {
		rec, err := dmarc.LookupWithOptions(name, &dmarc.LookupOptions{LookupTXT: lookup})
		switch {
		case err == nil:
			return rec, nil
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		case dmarc.IsTempFail(err) || strings.HasPrefix(err.Error(), "dmarc: failed to lookup"):
			return nil, fmt.Errorf("auth: dmarc record of %s: %w", name, err)
		default:
			// A record that does not parse is no record (RFC 7489
			// section 6.6.3), so alignment is relaxed.
			continue
		}
	}
	return nil, nil
}

// warnAuth says, at every start, that senders are not authenticated.
func (d *Daemon) warnAuth() {
	if d.o.Auth.Effective() == email.AuthNone {
		d.log.Warn("intake: SENDER AUTHENTICATION IS OFF (auth mode none): any allowlisted From address is believed, forged or not; this is for test servers on loopback only")
	}
}
