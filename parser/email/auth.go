package email

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"golang.org/x/net/publicsuffix"
)

// AuthPolicy says which Authentication-Results to trust.
type AuthPolicy struct {
	// TrustedAuthServID is the authserv-id our receiving server writes in
	// Authentication-Results. "" means not configured: nothing is checked.
	TrustedAuthServID string
	// RequireDMARC refuses mail that has no trusted Authentication-Results.
	// Without it such mail passes (the server does not authenticate), but
	// mail whose trusted results do not pass never does.
	RequireDMARC bool
}

// AuthVerdict is what Authenticate decided.
type AuthVerdict struct {
	Checked bool   // false when no authserv-id is configured
	Pass    bool   // the sender may be trusted (always true when !Checked)
	Method  string // "dmarc" or "dkim-aligned" when a result passed, else ""
	Reason  string // why, for logs and the dashboard (never sent to the sender)
}

// Authenticate decides from the Authentication-Results fields (RFC 8601)
// whether the From address of m is authenticated. Only fields whose
// authserv-id equals p.TrustedAuthServID count: any other may have been
// written by the sender. (The receiving server must remove incoming fields
// carrying its own id, RFC 8601 section 5.) It passes on dmarc=pass for the
// From domain, or else on dkim=pass with a header.d aligned with the From
// domain in relaxed mode (same organisational domain, RFC 7489 section
// 3.1.1). A trusted dmarc=fail decides, whatever DKIM says.
func Authenticate(m *Message, p AuthPolicy) AuthVerdict {
	trusted := strings.ToLower(strings.TrimSpace(p.TrustedAuthServID))
	if trusted == "" {
		return AuthVerdict{Pass: true, Reason: "authentication not configured (no trusted authserv-id)"}
	}
	v := AuthVerdict{Checked: true}
	if m == nil || m.From == "" {
		v.Reason = "no From address"
		return v
	}
	fromDomain := domainOf(m.From)
	if fromDomain == "" {
		v.Reason = "From address has no domain"
		return v
	}
	var found, dmarcFail, dkimAligned bool
	var dmarcPass bool
	var other []string
	for _, raw := range m.Header.Values("Authentication-Results") {
		id, results, _ := authres.Parse(stripComments(raw))
		if strings.ToLower(id) != trusted {
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
				if r.Value == authres.ResultPass && aligned(d, fromDomain) {
					dkimAligned = true
				} else {
					other = append(other, "dkim="+string(r.Value)+" d="+d)
				}
			}
		}
	}
	switch {
	case !found && p.RequireDMARC:
		v.Reason = "no trusted Authentication-Results"
	case !found:
		v.Pass = true
		v.Reason = "no trusted Authentication-Results (not required)"
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
	return v
}

// domainOf returns the lower-case domain of an address.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(addr[i+1:]), ".")
}

// aligned reports relaxed alignment: both domains have the same
// organisational domain (the registrable domain under the public suffix
// list).
func aligned(d, from string) bool {
	if d == "" || from == "" {
		return false
	}
	if d == from {
		return true
	}
	od, err1 := publicsuffix.EffectiveTLDPlusOne(d)
	of, err2 := publicsuffix.EffectiveTLDPlusOne(from)
	return err1 == nil && err2 == nil && od == of
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
