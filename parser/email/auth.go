package email

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"golang.org/x/net/publicsuffix"
)

// AuthMode says how the sender of a submission is authenticated.
type AuthMode string

const (
	// AuthAuto (the zero value) is AuthServer when a trusted authserv-id is
	// configured, else AuthVerify: authentication is never off by default.
	AuthAuto AuthMode = ""
	// AuthServer trusts the Authentication-Results (RFC 8601) the
	// receiving server added (Authenticate).
	AuthServer AuthMode = "authserv"
	// AuthVerify has the daemon verify DKIM signatures and their DMARC
	// alignment itself, where no trusted server stands in front.
	AuthVerify AuthMode = "verify"
	// AuthNone believes every From address. Only for test servers on
	// loopback: the daemon refuses it otherwise and warns at every start.
	AuthNone AuthMode = "none"
)

// AuthPolicy says how senders are authenticated and which
// Authentication-Results to trust.
type AuthPolicy struct {
	Mode AuthMode
	// TrustedAuthServID is the authserv-id the receiving server writes in
	// its Authentication-Results (AuthServer). It is compared
	// case-insensitively, as RFC 8601 section 2.5 has it.
	TrustedAuthServID string
	// ReceivedHops is how many Received fields the organisation's own
	// servers add to an incoming message: the receiving (border) server
	// that adds the Authentication-Results, and every hop after it on the
	// way to the mailbox (default 1). Authenticate trusts only the fields
	// above the last of them.
	ReceivedHops int
}

// Effective returns the mode the policy runs in: AuthAuto resolved.
func (p AuthPolicy) Effective() AuthMode {
	if p.Mode != AuthAuto {
		return p.Mode
	}
	if strings.TrimSpace(p.TrustedAuthServID) != "" {
		return AuthServer
	}
	return AuthVerify
}

// AuthVerdict is what Authenticate decided.
type AuthVerdict struct {
	Pass   bool   // the From address may be trusted
	Method string // "dmarc" or "dkim-aligned" when a result passed, else ""
	Reason string // why, for logs and the dashboard (never sent to the sender)
}

// Authenticate decides from the Authentication-Results fields (RFC 8601)
// whether the From address of m is authenticated, for AuthServer.
//
// Which fields are trusted. A receiving server prepends its trace fields
// to the message as it takes it in: its Received field (RFC 5321 section
// 4.4) and its Authentication-Results (RFC 8601 section 4.1), and every
// later hop of our own prepends its Received above those. Everything below
// the receiving server's own Received field came with the message, so the
// sender may have written it, Received and Authentication-Results fields
// included, with any authserv-id, in any case. Counting from the top, that
// Received field is the p.ReceivedHops-th one. Only fields above it that
// carry the trusted authserv-id count; a message with fewer Received
// fields did not come the way the policy describes, and nothing in it is
// trusted. (RFC 8601 section 5 also has the receiving server delete
// incoming fields carrying its own id; this rule holds even where it does
// not.)
//
// What passes. dmarc=pass for the From domain, or else dkim=pass with a
// header.d aligned with the From domain in relaxed mode (same
// organisational domain, RFC 7489 section 3.1.1). A trusted dmarc=fail
// decides, whatever DKIM says. A message whose From does not name exactly
// one address never passes (FromProblem).
func Authenticate(m *Message, p AuthPolicy) AuthVerdict {
	trusted := strings.TrimSpace(p.TrustedAuthServID)
	if trusted == "" {
		return AuthVerdict{Reason: "no trusted authserv-id configured"}
	}
	if m == nil {
		return AuthVerdict{Reason: "no message"}
	}
	if problem := m.FromProblem(); problem != "" {
		return AuthVerdict{Reason: problem}
	}
	fromDomain := domainOf(m.From)
	hops := max(p.ReceivedHops, 1)
	var v AuthVerdict
	var found, dmarcFail, dmarcPass, dkimAligned bool
	var other []string
	received, below := 0, 0
	for f := m.Header.Fields(); f.Next(); {
		key := f.Key()
		if strings.EqualFold(key, "Received") {
			received++
			continue
		}
		if !strings.EqualFold(key, "Authentication-Results") {
			continue
		}
		id, results, _ := authres.Parse(stripComments(f.Value()))
		if !strings.EqualFold(id, trusted) {
			continue
		}
		if received >= hops {
			below++ // under the receiving server's Received: the sender's
			continue
		}
		found = true
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				if d := strings.ToLower(strings.Trim(r.From, `"`)); d != "" && d != fromDomain {
					continue
				}
				switch r.Value {
				case authres.ResultPass:
					dmarcPass = true
				case authres.ResultFail:
					dmarcFail = true
				default:
					other = append(other, "dmarc="+string(r.Value))
				}
			case *authres.DKIMResult:
				d := strings.ToLower(strings.Trim(r.Domain, `"`))
				if r.Value == authres.ResultPass && Aligned(d, fromDomain, false) {
					dkimAligned = true
				} else {
					other = append(other, "dkim="+string(r.Value)+" d="+d)
				}
			}
		}
	}
	switch {
	case received < hops:
		v.Reason = fmt.Sprintf("the message has %d Received fields, fewer than the %d our servers add: it did not come through the receiving server", received, hops)
	case !found:
		v.Reason = fmt.Sprintf("no Authentication-Results of %s above the receiving server's Received field", trusted)
	case dmarcFail:
		v.Reason = "dmarc=fail for " + fromDomain
	case dmarcPass:
		v.Pass, v.Method, v.Reason = true, "dmarc", "dmarc=pass for "+fromDomain
	case dkimAligned:
		v.Pass, v.Method, v.Reason = true, "dkim-aligned", "dkim=pass aligned with "+fromDomain
	default:
		v.Reason = "no dmarc or aligned dkim pass for " + fromDomain
		if len(other) > 0 {
			v.Reason += " (" + strings.Join(other, ", ") + ")"
		}
	}
	if below > 0 {
		v.Reason += fmt.Sprintf("; %d Authentication-Results of %s below it ignored (the sender may have written them)", below, trusted)
	}
	return v
}

// DomainOf returns the lower-case domain of an address, "" if it has none.
func DomainOf(addr string) string { return domainOf(addr) }

// domainOf returns the lower-case domain of an address.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(addr[i+1:]), ".")
}

// Aligned reports DMARC identifier alignment of a DKIM signing domain d
// with the From domain (RFC 7489 section 3.1.1): the same domain in strict
// mode; in relaxed mode, the same organisational domain (the registrable
// domain under the public suffix list).
func Aligned(d, from string, strict bool) bool {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	from = strings.TrimSuffix(strings.ToLower(from), ".")
	if d == "" || from == "" {
		return false
	}
	if d == from {
		return true
	}
	if strict {
		return false
	}
	od, err1 := publicsuffix.EffectiveTLDPlusOne(d)
	of, err2 := publicsuffix.EffectiveTLDPlusOne(from)
	return err1 == nil && err2 == nil && od == of
}

// OrganizationalDomain returns the registrable domain of d under the
// public suffix list (RFC 7489 section 3.2), or d when it has none.
func OrganizationalDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if od, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return od
	}
	return d
}

// stripComments removes RFC 5322 comments (parenthesised, nestable, outside
// quoted strings), which authres does not understand and which may hold ';'.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (quoted || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
