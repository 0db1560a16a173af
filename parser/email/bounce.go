package email

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Bounce is what a delivery failure report says about one of our mails.
type Bounce struct {
	ReplyMessageID string // Message-ID of the returned original (ours), without <>; "" if not found
	Recipient      string // the recipient that failed, lower-cased, "" if unknown
	// OriginalRecipient is the recipient as first addressed, where a DSN
	// gives it (Original-Recipient) and it differs from Recipient (the
	// mail was forwarded), lower-cased.
	OriginalRecipient string
	Status            string // RFC 3463 status, e.g. "5.1.1", "" if unknown
	Reason            string // diagnostic text, shortened
	// Permanent: a failure. In a DSN, Action: failed is final whatever its
	// status code (RFC 3464 section 2.3.3; its own example reports a 4.0.0
	// failure); without an action, a 4.x.x status is a delay. In other
	// bounces, a 5.x.x status or none.
	Permanent bool
}

// bounceSubjects start the subjects of common non-standard bounces.
var bounceSubjects = []string{
	"undelivered mail returned to sender", "delivery status notification", "undeliverable",
	"undeliverable mail", "returned mail", "mail delivery failed", "mail delivery failure",
	"failure notice", "delivery failure", "delivery failed", "delivery notification",
	"mail system error", "non remis", "nondeliverable", "non-deliverable", "message not delivered",
	"message delivery failure", "email bounce notification", "warning: could not send message",
	"unzustellbar", "delivery has failed", "permanent delivery failure", "could not send message",
	"mail could not be delivered", "returned mail:", "delayed mail", "delivery delayed",
	"undelivered message", "bounced mail", "mail delivery system", "rejected:", "notice of non-delivery",
	"mail failed", "returning to sender", "error sending your mail", "delivery problem",
}

var (
	statusRe    = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	messageIDRe = regexp.MustCompile(`(?im)^\s*message-id:\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$`)
	labelledRe  = regexp.MustCompile(`(?im)^[ \t]*(?:final-recipient|original-recipient|x-failed-recipients|target mail address|failed recipients?|recipient address|recipient|original recipient)[ \t]*:[ \t]*(?:rfc822[ \t]*;)?[ \t]*<?([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+?)>?[ \t\r]*$`)
	lineAddrRe  = regexp.MustCompile(`(?m)^[ \t]*<([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>`)
	recipientRe = regexp.MustCompile(`<([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>`)
	addressRe   = regexp.MustCompile(`\b[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b`)
)

// ParseBounce recognises a delivery failure report: a DSN (RFC 3464:
// multipart/report; report-type=delivery-status with a
// message/delivery-status part and the returned message/rfc822 or
// text/rfc822-headers), or a common non-standard bounce (from
// mailer-daemon or postmaster, a bounce subject, X-Failed-Recipients). The
// returned Bounce names the Message-ID of the returned original, so a
// bounce of one of our replies can be recorded. m is Parse's result for
// raw; when m is nil raw is parsed with DefaultLimits. Delivery reports
// that say the mail was delivered (Action: delivered, relayed, expanded)
// are not bounces.
func ParseBounce(m *Message, raw []byte) (*Bounce, bool) {
	if m == nil {
		var err error
		if m, err = Parse(raw, DefaultLimits()); err != nil {
			return nil, false
		}
	}
	if len(m.dsn) > 0 {
		b, delivered := m.parseDSN()
		if b != nil {
			return b, true
		}
		if delivered {
			return nil, false // a success report
		}
		// A delivery-status part without recipient blocks: read the text.
	}
	if m.report != "" && m.report != "delivery-status" {
		return nil, false // e.g. disposition-notification (read receipt), feedback-report
	}
	if !m.looksLikeBounce() {
		return nil, false
	}
	b := &Bounce{ReplyMessageID: m.returnedID(raw), Permanent: true}
	if v := strings.TrimSpace(m.Header.Get("X-Failed-Recipients")); v != "" {
		if a := parseAddresses(v); len(a) > 0 {
			b.Recipient = a[0].Address
		}
	}
	text := string(m.textAll.b)
	if text == "" {
		text = m.Text
	}
	if mm := statusRe.FindStringSubmatch(text); mm != nil {
		b.Status = mm[0]
		b.Permanent = mm[1] == "5"
	} else if delayed(m.Subject) {
		b.Permanent = false
	}
	if b.Recipient == "" {
		b.Recipient = m.failedRecipient(text)
	}
	b.Reason = shortReason(text)
	return b, true
}

// looksLikeBounce: a non-standard bounce, by its sender, fields or subject.
func (m *Message) looksLikeBounce() bool {
	if m.Header.Has("X-Failed-Recipients") {
		return true
	}
	if m.report == "delivery-status" {
		return true
	}
	rawFrom := strings.ToLower(m.Header.Get("From"))
	if strings.Contains(rawFrom, "mailer-daemon") || strings.Contains(rawFrom, "mail delivery") ||
		strings.Contains(rawFrom, "mail-daemon") || strings.Contains(rawFrom, "mailerdaemon") {
		return true
	}
	if m.NullReturnPath && len(m.embedded) > 0 {
		return true // an attached original and no return path: nothing else looks like this
	}
	robot := strings.Contains(rawFrom, "postmaster")
	bounceSubject := isBounceSubject(m.Subject)
	if robot && (bounceSubject || m.NullReturnPath || len(m.embedded) > 0) {
		return true
	}
	return bounceSubject && (m.NullReturnPath || len(m.embedded) > 0 || statusRe.MatchString(string(m.textAll.b)))
}

// isBounceSubject: a bounce's subject, never one a person replied to or
// forwarded ("Fwd: Undeliverable: ..." is an agency's mail, not a bounce).
func isBounceSubject(subject string) bool {
	s := strings.ToLower(strings.TrimSpace(subject))
	for _, p := range []string{"re:", "re :", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:", "vs:"} {
		if strings.HasPrefix(s, p) {
			return false
		}
	}
	for _, b := range bounceSubjects {
		if strings.Contains(s, b) {
			return true
		}
	}
	return false
}

func delayed(subject string) bool {
	s := strings.ToLower(subject)
	return strings.Contains(s, "delay") || strings.Contains(s, "warning")
}

// parseDSN reads the message/delivery-status parts: the per-recipient
// blocks follow the per-message block, separated by blank lines. It returns
// the most severe failure, or nil and whether some recipient was reported
// delivered (a success report).
func (m *Message) parseDSN() (best *Bounce, delivered bool) {
	for _, body := range m.dsn {
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
		for _, block := range bytes.Split(body, []byte("\n\n")) {
			block = bytes.TrimSpace(block)
			if len(block) == 0 {
				continue
			}
			h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(block, '\n', '\n'))))
			action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
			rcpt, orig := h.Get("Final-Recipient"), h.Get("Original-Recipient")
			if rcpt == "" {
				rcpt, orig = orig, ""
			}
			if action == "" && rcpt == "" {
				continue // the per-message block
			}
			b := &Bounce{Status: strings.TrimSpace(h.Get("Status")), Reason: strings.TrimSpace(h.Get("Diagnostic-Code"))}
			b.Recipient = dsnAddress(rcpt)
			if o := dsnAddress(orig); o != b.Recipient {
				b.OriginalRecipient = o
			}
			if mm := statusRe.FindString(b.Status); mm != "" {
				b.Status = mm
			}
			switch action {
			case "delivered", "relayed", "expanded":
				delivered = true
				continue
			case "delayed":
				b.Permanent = false
			case "failed":
				b.Permanent = true // final, even with a 4.x.x status (RFC 3464 section 2.3.3)
			default: // missing or unknown: the status decides
				b.Permanent = !strings.HasPrefix(b.Status, "4")
			}
			if best == nil || (b.Permanent && !best.Permanent) {
				best = b
			}
		}
	}
	if best == nil {
		return nil, delivered
	}
	if best.Reason == "" {
		best.Reason = shortReason(string(m.textAll.b))
	} else {
		if _, d, ok := strings.Cut(best.Reason, ";"); ok {
			best.Reason = strings.TrimSpace(d)
		}
		best.Reason = truncateUTF8(strings.Join(strings.Fields(best.Reason), " "), 300)
	}
	best.ReplyMessageID = m.returnedID(nil)
	return best, false
}

// dsnAddress reads a DSN recipient field ("rfc822; <a@b>"): the bare
// address, lower-cased; "" when empty.
func dsnAddress(v string) string {
	if _, addr, ok := strings.Cut(v, ";"); ok {
		v = addr
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if a := parseAddresses(v); len(a) > 0 {
		return a[0].Address
	}
	return strings.ToLower(strings.Trim(v, "<>"))
}

// returnedID finds the Message-ID of the returned original: an attached
// message or returned headers first, else a Message-ID line in the text or
// in the raw body (inline returned headers).
func (m *Message) returnedID(raw []byte) string {
	for _, e := range m.embedded {
		if e.messageID != "" && e.messageID != m.MessageID {
			return e.messageID
		}
	}
	for _, src := range [][]byte{m.textAll.b, bodyOf(raw)} {
		for _, mm := range messageIDRe.FindAllSubmatch(src, -1) {
			if id := string(mm[1]); id != m.MessageID {
				return id
			}
		}
	}
	return ""
}

func bodyOf(raw []byte) []byte {
	if raw == nil {
		return nil
	}
	_, body, _ := splitHeader(raw)
	const max = 1 << 20
	if len(body) > max {
		body = body[:max]
	}
	return body
}

// failedRecipient guesses the failed address in a bounce's text.
func (m *Message) failedRecipient(text string) string {
	for _, re := range []*regexp.Regexp{labelledRe, lineAddrRe} {
		if mm := re.FindStringSubmatch(text); mm != nil {
			return strings.ToLower(mm[1])
		}
	}
	if mm := recipientRe.FindStringSubmatch(text); mm != nil {
		return strings.ToLower(mm[1])
	}
	for _, a := range addressRe.FindAllString(text, 20) {
		a = strings.ToLower(a)
		if a != m.From && !strings.HasPrefix(a, "mailer-daemon@") && !strings.HasPrefix(a, "postmaster@") {
			return a
		}
	}
	return ""
}

// shortReason keeps the first informative lines of a bounce text.
func shortReason(text string) string {
	var keep []string
	n := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Trim(line, "#-=*_ ") == "" {
			continue
		}
		keep = append(keep, line)
		n += len(line)
		if n > 300 || len(keep) >= 4 {
			break
		}
	}
	return truncateUTF8(strings.Join(keep, " "), 300)
}
