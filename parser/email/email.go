// Package email turns one raw RFC 5322 message into what the intake
// pipeline needs: addresses, threading ids, the first plain-text body and
// every attachment (including those of forwarded message/rfc822 parts),
// plus the decisions made from headers alone: a content hash for dedupe
// (DedupeKey), whether an automatic reply is allowed (AutoReplyReason,
// RFC 3834), whether the mail is a bounce of one of our replies
// (ParseBounce, RFC 3464) and whether the receiving server authenticated
// the sender (Authenticate, RFC 8601 / RFC 7489).
//
// The package is pure: bytes in, values out; no network, no clock. Parsing
// is best effort within Limits, which bound parts, nesting, header and part
// sizes (go-message enforces none of them itself). What was odd but
// survivable is listed in Message.Problems, never returned as an error.
package email

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decodes non-UTF-8 charsets in bodies and headers
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// MaxTextBytes bounds Message.Text.
const MaxTextBytes = 64 << 10

// Limits bound what parsing one message may cost.
type Limits struct {
	MaxParts            int   // MIME parts in the whole message, nested ones included
	MaxDepth            int   // nesting of multipart and message/rfc822 parts
	MaxHeaderBytes      int   // bytes of one header block (the message's or a part's)
	MaxPartBytes        int64 // decoded bytes of one attachment
	MaxAttachmentsBytes int64 // decoded bytes of all attachments together
}

// DefaultLimits are generous for any real submission and small enough that
// a hostile message cannot hurt the daemon.
func DefaultLimits() Limits {
	return Limits{
		MaxParts:            200,
		MaxDepth:            10,
		MaxHeaderBytes:      64 << 10,
		MaxPartBytes:        25 << 20,
		MaxAttachmentsBytes: 50 << 20,
	}
}

// withDefaults replaces zero (unset) limits by the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = d.MaxPartBytes
	}
	if l.MaxAttachmentsBytes <= 0 {
		l.MaxAttachmentsBytes = d.MaxAttachmentsBytes
	}
	return l
}

// Attachment is one attached file.
type Attachment struct {
	Name        string // sanitised display name (SanitizeFilename), never a path
	ContentType string // media type, lower-case, without parameters
	Data        []byte // decoded content
}

// Unread is an attachment left unread because it went over a size limit.
type Unread struct {
	Name        string // sanitised display name
	ContentType string // media type, lower-case, without parameters
	Limit       int64  // the limit in bytes it went over
	Total       bool   // the limit was on all attachments together, not on one part
}

// Spreadsheet reports whether the unread attachment was a spreadsheet, by
// its name or media type.
func (u Unread) Spreadsheet() bool {
	return Attachment{Name: u.Name, ContentType: u.ContentType}.Spreadsheet()
}

// Message is what Parse made of a raw message.
type Message struct {
	MessageID      string   // without <>, "" if absent
	From           string   // bare address, lower-cased ("" if absent or unreadable)
	FromName       string   // display name of From, decoded
	Sender         string   // bare address, lower-cased
	ReplyTo        string   // first Reply-To address, lower-cased
	ReturnPath     string   // from the (first) Return-Path header, bare address
	NullReturnPath bool     // Return-Path: <> is present (a bounce or auto-reply)
	To, Cc         []string // bare addresses, lower-cased
	DeliveredTo    []string // Delivered-To and X-Original-To addresses, lower-cased
	Subject        string   // decoded
	Date           time.Time
	InReplyTo      string   // first In-Reply-To id, without <>
	References     []string // without <>
	Header         mail.Header
	Text           string       // first text/plain body, decoded, LF line ends, at most MaxTextBytes
	Attachments    []Attachment // attachments and named inline parts, those of forwarded messages too
	Problems       []string     // what was odd but survivable
	// Unread lists the attachments the size limits kept from being read;
	// Incomplete says parts were skipped unseen (too many, nested too
	// deep, or a header over the limit), so attachments may be missing.
	Unread     []Unread
	Incomplete bool

	fromFields int         // From fields in the header
	authors    []string    // every address they name, lower-cased
	report     string      // report-type of a top-level multipart/report
	mdn        bool        // a message/disposition-notification part (a read receipt, RFC 8098)
	dsn        [][]byte    // bodies of message/delivery-status parts
	embedded   []embedded  // headers of message/rfc822 and text/rfc822-headers parts
	textAll    bytesBudget // text of non-attachment text parts, for bounce heuristics
}

// embedded is the header of a message carried inside this one.
type embedded struct {
	header    mail.Header
	messageID string
	headers   bool // from text/rfc822-headers (a DSN's returned headers)
}

// ErrNoHeader is returned by Parse when the input has no readable header.
var ErrNoHeader = errors.New("email: no message header")

// ErrHeaderTooLarge is returned by Parse when the message header block is
// larger than Limits.MaxHeaderBytes.
var ErrHeaderTooLarge = errors.New("email: message header exceeds the limit")

// Parse reads a raw message. It is best effort: it returns an error only
// when no header can be read (ErrNoHeader, e.g. for an Outlook .msg file) or
// the header block is over the limit (ErrHeaderTooLarge). Everything else
// odd (truncated MIME, unknown charsets, parts over the limits, which are
// skipped) is listed in Message.Problems. Zero fields of lim take the
// defaults.
func Parse(raw []byte, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	hdr, body, problems := splitHeader(raw)
	if len(hdr) > lim.MaxHeaderBytes {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrHeaderTooLarge, len(hdr), lim.MaxHeaderBytes)
	}
	th, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil {
		problems = append(problems, "header: "+err.Error())
	}
	if th.Len() == 0 {
		return nil, ErrNoHeader
	}
	m := &Message{Header: mail.Header{Header: message.Header{Header: th}}, Problems: problems}
	m.readHeader()

	e, err := message.New(m.Header.Header, bytes.NewReader(body))
	if err != nil {
		m.problem("%v", err)
	}
	if e == nil {
		return m, nil
	}
	w := &walker{lim: lim, m: m}
	if t, params, _ := e.Header.ContentType(); t == "multipart/report" {
		m.report = strings.ToLower(params["report-type"])
	}
	w.entity(e, 0, false)
	m.Text = truncateUTF8(m.Text, MaxTextBytes)
	return m, nil
}

func (m *Message) problem(format string, args ...any) {
	const maxProblems = 50
	switch {
	case len(m.Problems) < maxProblems:
		m.Problems = append(m.Problems, fmt.Sprintf(format, args...))
	case len(m.Problems) == maxProblems:
		m.Problems = append(m.Problems, "more problems not listed")
	}
}

// splitHeader finds the header block of raw: it skips a leading mbox "From "
// line and ends the header at the first blank line, or at the first line
// that is neither a field nor a continuation (that line starts the body).
// The header returned ends with its blank line.
func splitHeader(raw []byte) (hdr, body []byte, problems []string) {
	start := 0
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) { // a UTF-8 byte order mark
		start = 3
	}
	// Lines of nothing but spaces before the first field (iPhone mail
	// seen so, issue 15): Python's email package reads the header after
	// them, as a defect; so do we.
	for start < len(raw) {
		line := firstLine(raw[start:])
		nl := bytes.IndexByte(raw[start:], '\n')
		if len(line) == 0 || len(bytes.Trim(line, " \t")) != 0 || nl < 0 {
			break
		}
		problems = append(problems, "a line of spaces before the header")
		start += nl + 1
	}
	// White space before the first field (seen from broken clients).
	if i := start + len(raw[start:]) - len(bytes.TrimLeft(raw[start:], " \t")); i > start && isFieldLine(firstLine(raw[i:])) {
		start = i
	}
	if bytes.HasPrefix(raw[start:], []byte("From ")) {
		if i := bytes.IndexByte(raw[start:], '\n'); i >= 0 {
			start += i + 1
		} else {
			start = len(raw)
		}
	}
	pos := start
	for pos < len(raw) {
		end := bytes.IndexByte(raw[pos:], '\n')
		var line []byte
		next := len(raw)
		if end >= 0 {
			line = raw[pos : pos+end]
			next = pos + end + 1
		} else {
			line = raw[pos:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0:
			return raw[start:next], raw[next:], problems
		case line[0] == ' ' || line[0] == '\t':
			if pos == start {
				problems = append(problems, "header starts with a continuation line")
				return nil, raw[start:], problems
			}
		case !isFieldLine(line):
			if pos > start {
				problems = append(problems, "header not ended by a blank line")
			}
			return append(raw[start:pos:pos], '\r', '\n'), raw[pos:], problems
		}
		pos = next
	}
	// Header only, no body.
	return append(raw[start:len(raw):len(raw)], '\r', '\n', '\r', '\n'), nil, problems
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSuffix(b, []byte("\r"))
}

// isFieldLine reports whether line starts with a valid field name and a colon.
func isFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	key := bytes.TrimRight(line[:i], " \t")
	if len(key) == 0 {
		return false
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// readHeader fills the header-derived fields.
func (m *Message) readHeader() {
	h := &m.Header
	if id, err := h.MessageID(); err == nil && id != "" {
		m.MessageID = id
	} else if v := strings.TrimSpace(h.Get("Message-Id")); v != "" {
		m.MessageID = strings.Trim(strings.Fields(v)[0], "<>")
	}
	from := m.addresses("From")
	if len(from) > 0 {
		m.From, m.FromName = from[0].Address, from[0].Name
	}
	m.fromFields = len(h.Values("From"))
	for _, a := range from {
		m.authors = append(m.authors, a.Address)
	}
	if a := m.addresses("Sender"); len(a) > 0 {
		m.Sender = a[0].Address
	}
	if a := m.addresses("Reply-To"); len(a) > 0 {
		m.ReplyTo = a[0].Address
	}
	if v, ok := firstValue(h, "Return-Path"); ok {
		v = strings.TrimSpace(v)
		if v == "<>" || strings.ReplaceAll(v, " ", "") == "<>" {
			m.NullReturnPath = true
		} else if a := parseAddresses(v); len(a) > 0 {
			m.ReturnPath = a[0].Address
		}
	}
	for _, a := range m.addresses("To") {
		m.To = append(m.To, a.Address)
	}
	for _, a := range m.addresses("Cc") {
		m.Cc = append(m.Cc, a.Address)
	}
	seen := map[string]bool{}
	for _, key := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(key) {
			for _, a := range parseAddresses(v) {
				if !seen[a.Address] {
					seen[a.Address] = true
					m.DeliveredTo = append(m.DeliveredTo, a.Address)
				}
			}
		}
	}
	m.Subject = m.text("Subject")
	if h.Has("Date") {
		if d, err := h.Date(); err == nil {
			m.Date = d
		} else if d, ok := parseDateLenient(h.Get("Date")); ok {
			m.Date = d
		} else {
			m.problem("unreadable Date header")
		}
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		m.InReplyTo = ids[0]
	} else if ids := lenientIDs(h.Get("In-Reply-To")); len(ids) > 0 {
		m.InReplyTo = ids[0]
	}
	if ids, err := h.MsgIDList("References"); err == nil {
		m.References = ids
	} else {
		m.References = lenientIDs(h.Get("References"))
	}
}

// FromProblem says why the author of m cannot be told, or "" when m has
// one From field naming one address. RFC 5322 section 3.6 allows one From
// field only; it may list several authors, but a submission speaks for one
// agency, and the allowlist, DKIM alignment and DMARC all take one From
// domain, so mail naming several is never believed.
func (m *Message) FromProblem() string {
	switch {
	case m.fromFields == 0:
		return "the message has no From field"
	case m.fromFields > 1:
		return fmt.Sprintf("the message has %d From fields; one is allowed", m.fromFields)
	case len(m.authors) == 0:
		return "the From field holds no readable address"
	case len(m.authors) > 1:
		return fmt.Sprintf("the From field names %d addresses (%s); a submission must come from one", len(m.authors), strings.Join(m.authors, ", "))
	case domainOf(m.authors[0]) == "":
		return fmt.Sprintf("the From address %q is not an address", m.authors[0])
	}
	return ""
}

// text returns the decoded value of a text field (RFC 2047 words; raw
// 8-bit bytes that are not UTF-8 are read as windows-1252).
func (m *Message) text(key string) string {
	raw := m.Header.Get(key)
	s, err := m.Header.Text(key)
	if err != nil {
		if message.IsUnknownCharset(err) {
			m.problem("%s: %v", key, err)
		}
		s = raw
	}
	return toUTF8(s)
}

// toUTF8 reads a string that is not valid UTF-8 as windows-1252 (the usual
// charset of raw 8-bit headers from Windows clients).
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteRune(cp1252(s[i]))
			i++
			continue
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// cp1252 maps one windows-1252 byte to its rune.
func cp1252(c byte) rune {
	if c < 0x80 || c >= 0xA0 {
		return rune(c)
	}
	table := [32]rune{
		'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
		'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
	}
	return table[c-0x80]
}

// Address is a parsed address: bare address lower-cased, and display name.
type address struct{ Name, Address string }

// addresses parses an address field, leniently when the strict parser fails.
func (m *Message) addresses(key string) []address {
	if !m.Header.Has(key) {
		return nil
	}
	var out []address
	for _, v := range m.Header.Values(key) {
		out = append(out, parseAddresses(v)...)
	}
	return out
}

// parseAddresses parses one address-list value: strictly with go-message,
// else by picking the tokens that look like addresses.
func parseAddresses(v string) []address {
	h := mail.Header{}
	h.Set("X", v)
	if list, err := h.AddressList("X"); err == nil && len(list) > 0 {
		out := make([]address, 0, len(list))
		for _, a := range list {
			out = append(out, address{Name: toUTF8(a.Name), Address: strings.ToLower(a.Address)})
		}
		return out
	}
	return lenientAddresses(v)
}

// lenientAddresses finds addr-specs in a damaged address field: <a@b>
// first, else whitespace/comma-separated tokens with an @.
func lenientAddresses(v string) []address {
	var out []address
	rest := v
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			break
		}
		name := decodeWords(strings.Trim(strings.TrimSpace(rest[:i]), `",`))
		// "<x@evil.example, y@dhs.gov>" holds two addresses, not one.
		for _, a := range strings.FieldsFunc(rest[i+1:i+j], isAddressSeparator) {
			if strings.Contains(a, "@") {
				out = append(out, address{Name: name, Address: strings.ToLower(a)})
			}
		}
		rest = rest[i+j+1:]
	}
	if len(out) == 0 {
		for _, f := range strings.FieldsFunc(v, isAddressSeparator) {
			f = strings.Trim(f, `"'()<>[]`)
			if strings.Contains(f, "@") {
				out = append(out, address{Address: strings.ToLower(f)})
			}
		}
	}
	// Whatever looks like an address but is not one (two @, an empty
	// part, a bracket or quote left inside) is kept as it is, so it counts
	// as an author, but with no domain: the allowlist never matches it.
	for i, a := range out {
		if !plausibleAddress(a.Address) {
			out[i].Address = strings.ReplaceAll(a.Address, "@", "%")
		}
	}
	return out
}

func isAddressSeparator(r rune) bool {
	return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
}

// plausibleAddress reports whether a is local@domain with one @, a local
// part of printable characters and a domain of letters, digits, hyphens
// and dots (non-ASCII letters allowed).
func plausibleAddress(a string) bool {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return false
		}
	}
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	for _, r := range domain {
		if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// decodeWords decodes RFC 2047 encoded words, keeping the input on error.
func decodeWords(s string) string {
	h := message.Header{}
	h.Set("X", s)
	if d, err := h.Text("X"); err == nil {
		return toUTF8(d)
	}
	return toUTF8(s)
}

func firstValue(h *mail.Header, key string) (string, bool) {
	f := h.FieldsByKey(key)
	if f.Next() {
		return f.Value(), true
	}
	return "", false
}

// lenientIDs extracts <...> ids from a damaged id-list field.
func lenientIDs(v string) []string {
	var out []string
	for _, f := range strings.Fields(v) {
		f = strings.Trim(f, "<>,")
		if f != "" && strings.Contains(f, "@") {
			out = append(out, f)
		}
	}
	return out
}

// parseDateLenient reads the Date forms the strict parser refuses.
func parseDateLenient(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '('); i > 0 {
		v = strings.TrimSpace(v[:i])
	}
	layouts := []string{
		time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04 -0700", "Mon, 2 Jan 06 15:04:05 -0700",
		"Mon Jan 2 15:04:05 2006", "Mon Jan _2 15:04:05 MST 2006", time.RFC3339,
		"Mon, 2 Jan 2006 15:04:05", "2 Jan 2006 15:04:05",
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// bytesBudget collects text up to a fixed size.
type bytesBudget struct{ b []byte }

func (bb *bytesBudget) add(p []byte) {
	const max = 256 << 10
	if room := max - len(bb.b); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		bb.b = append(bb.b, p...)
		bb.b = append(bb.b, '\n')
	}
}

// readLimited reads at most n bytes of r; over reports that more followed.
func readLimited(r io.Reader, n int64) (data []byte, over bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, n+1))
	if int64(len(data)) > n {
		return data[:n], true, err
	}
	return data, false, err
}
