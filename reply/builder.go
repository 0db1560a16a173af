package reply

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"intake/parser"
)

// Kinds of Mail.
const (
	KindAcknowledgement = "acknowledgement"
	KindDeficiency      = "deficiency"
	KindReminder        = "reminder"
	KindQuestion        = "question" // staff will answer a question (no workbook)
)

// xlsxType is the media type of an .xlsx workbook.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Options configure a Builder.
type Options struct {
	From         string // the bot's address, e.g. allocation-management@opm.gov (required)
	FromName     string // display name, e.g. "OPM Data Call Intake"
	Organization string // Organization header and signature line; "" leaves both out
}

// Original is the mail being answered.
type Original struct {
	MessageID  string    // its Message-ID, with or without <>; "" when it had none
	Subject    string    // its subject, decoded
	From       string    // sender address: the reply goes there
	FromName   string    // sender display name
	References []string  // its References, with or without <>
	Date       time.Time // its Date (zero: unknown); written by the sender, never shown as when it arrived
	// Received is when OPM's mail server received it (the time lateness is
	// judged by): the acknowledgement's "Received", which an agency keeps
	// as proof. Zero: Outcome.Now.
	Received time.Time
}

// Outcome is what became of one submission: everything a reply says.
type Outcome struct {
	Call       *parser.Definition
	ReplyID    string // our Message-ID (without <>), chosen by the caller, stable
	Receipt    string // "" for a mail that carried no spreadsheet at all
	Version    int    // 1 for the first accepted version; 0 when deficient
	Agency     string // agency code
	AgencyName string
	Original   Original
	Submission parser.Submission
	// Annotated are the annotated copies of the agency's workbooks that a
	// deficiency notice attaches, made by the caller (package workbook);
	// a file with findings and no copy here is only listed. Never
	// attached for a call that holds PII.
	Annotated []Annotated
	// ChangeList is a workbook listing every change of Changes, made by
	// the caller (package workbook); an acknowledgement attaches it when
	// the mail does not name every change. nil: none.
	ChangeList []byte
	// Template is the blank official template of Call, made by the caller
	// (package workbook): a deficiency notice for mail without a workbook,
	// or with one that is not the call's, attaches it. nil: none.
	Template []byte
	Due      time.Time // zero: no deadline known
	Late     bool
	Changes  *parser.Changes // nil for a first version; else what changed since the previous version
	Now      time.Time       // the reply's Date
}

// Annotated is the annotated copy of one of the agency's workbooks.
type Annotated struct {
	File string // the name of the agency's file, as received
	Data []byte // the .xlsx copy
}

// Mail is a built message, ready for the outbox.
type Mail struct {
	MessageID string   // without <>
	Kind      string   // KindAcknowledgement, KindDeficiency or KindReminder
	From      string   // envelope sender address
	To        []string // envelope recipient addresses
	Subject   string
	Raw       []byte // the whole RFC 5322 message, CRLF line ends
}

// Builder renders replies. It holds the parsed templates and is safe for
// concurrent use.
type Builder struct {
	opts Options
	text *texttemplate.Template
	html *htmltemplate.Template
}

//go:embed templates
var templateFS embed.FS

// NewBuilder parses the embedded templates and checks the options. It fails
// when From is not a valid address or a template does not parse.
func NewBuilder(o Options) (*Builder, error) {
	if o.From == "" {
		return nil, errors.New("reply: Options.From is required")
	}
	if a, err := mail.ParseAddress(o.From); err != nil || a.Address != o.From {
		return nil, fmt.Errorf("reply: Options.From %q is not a bare address", o.From)
	}
	funcs := map[string]any{"plural": plural, "thousands": thousands}
	text, err := texttemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("reply: parse text templates: %w", err)
	}
	html, err := htmltemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("reply: parse html templates: %w", err)
	}
	for _, name := range []string{KindAcknowledgement, KindDeficiency, KindReminder, KindQuestion, KindWaiting} {
		if text.Lookup(name) == nil || html.Lookup(name) == nil {
			return nil, fmt.Errorf("reply: template %q is not defined", name)
		}
	}
	return &Builder{opts: o, text: text, html: html}, nil
}

// render executes the text and HTML templates of one kind.
func (b *Builder) render(kind string, view any) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := b.text.ExecuteTemplate(&tb, kind, view); err != nil {
		return "", "", fmt.Errorf("reply: render %s text: %w", kind, err)
	}
	if err := b.html.ExecuteTemplate(&hb, kind, view); err != nil {
		return "", "", fmt.Errorf("reply: render %s html: %w", kind, err)
	}
	return tb.String(), hb.String(), nil
}

// attachment is one file attached to a reply.
type attachment struct {
	Name string
	Data []byte
}

// envelope is what compose needs beyond the bodies.
type envelope struct {
	Kind      string
	MessageID string
	To        string
	ToName    string
	MoreTo    []string // further recipients, after To
	Subject   string
	Date      time.Time
	Original  *Original // nil: not a reply (no threading headers)
	Auto      string    // Auto-Submitted value (RFC 3834 section 5)
}

// displayName makes a sender's display name fit a To field: a decoded name
// may hold a CR, LF, NUL or other control character (an encoded word can
// carry any byte), which no address field may, so each run of white space
// and control characters becomes one space. Without it the reply failed
// to build and the agency was never answered (issue 14).
func displayName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}), " ")
}

// compose assembles the message with go-mail and makes it deterministic.
func (b *Builder) compose(env envelope, text, html string, files []attachment) (*Mail, error) {
	if env.MessageID == "" {
		return nil, fmt.Errorf("reply: %s: no Message-ID given", env.Kind)
	}
	id := bare(env.MessageID)
	to, err := mail.ParseAddress(env.To)
	if err != nil || env.To == "" {
		return nil, fmt.Errorf("reply: %s: bad recipient address %q", env.Kind, env.To)
	}
	if env.Date.IsZero() {
		return nil, fmt.Errorf("reply: %s: no date given", env.Kind)
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if b.opts.FromName != "" {
		err = m.FromFormat(b.opts.FromName, b.opts.From)
	} else {
		err = m.From(b.opts.From)
	}
	if err != nil {
		return nil, fmt.Errorf("reply: from: %w", err)
	}
	name := displayName(env.ToName)
	if name == "" {
		name = displayName(to.Name)
	}
	if err := m.AddToFormat(name, to.Address); err != nil {
		return nil, fmt.Errorf("reply: to: %w", err)
	}
	rcpt := []string{to.Address}
	for _, a := range env.MoreTo {
		more, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("reply: %s: bad recipient address %q", env.Kind, a)
		}
		if err := m.AddTo(more.Address); err != nil {
			return nil, fmt.Errorf("reply: to: %w", err)
		}
		rcpt = append(rcpt, more.Address)
	}
	m.Subject(env.Subject)
	m.SetMessageIDWithValue(id)
	m.SetDateWithValue(env.Date)
	if env.Original != nil {
		if orig := bare(env.Original.MessageID); orig != "" {
			m.SetGenHeader(gomail.HeaderInReplyTo, "<"+orig+">")
		}
		if refs := references(*env.Original); refs != "" {
			// One value: go-mail joins several values with commas, and
			// References is a space-separated list (RFC 5322 section 3.6.4).
			m.SetGenHeader(gomail.HeaderReferences, refs)
		}
	}
	m.SetGenHeader(gomail.Header("Auto-Submitted"), env.Auto)
	// X-Loop names us (RFC 3834 section 2): a reply that comes back to the
	// bot, even forwarded under another From, is recognised and not answered.
	m.SetGenHeader(gomail.Header("X-Loop"), b.opts.From)
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if b.opts.Organization != "" {
		m.SetOrganization(b.opts.Organization)
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	for _, f := range files {
		if err := m.AttachReader(f.Name, bytes.NewReader(f.Data), gomail.WithFileContentType(xlsxType)); err != nil {
			return nil, fmt.Errorf("reply: attach %q: %w", f.Name, err)
		}
	}
	var raw bytes.Buffer
	if _, err := m.WriteTo(&raw); err != nil {
		return nil, fmt.Errorf("reply: write %s: %w", env.Kind, err)
	}
	return &Mail{
		MessageID: id,
		Kind:      env.Kind,
		From:      b.opts.From,
		To:        rcpt,
		Subject:   env.Subject,
		Raw:       stableBoundaries(raw.Bytes(), id),
	}, nil
}

var boundaryParam = regexp.MustCompile(`boundary=([0-9A-Za-z'()+_,./:?-]+)`)

// stableBoundaries replaces go-mail's random MIME boundaries with ones
// derived from the Message-ID, so the same reply always has the same
// bytes. go-mail's own fixed boundary (WithBoundary) cannot be used: it
// gives nested multiparts the same boundary, which makes the mail
// unreadable. The new boundaries start with "=_", which can occur neither
// in quoted-printable nor in base64 content (RFC 2045 section 6.7).
func stableBoundaries(raw []byte, id string) []byte {
	for i, m := range boundaryParam.FindAllSubmatch(raw, -1) {
		old := string(m[1])
		sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", id, i))
		repl := "=_" + hex.EncodeToString(sum[:])[:40]
		raw = bytes.ReplaceAll(raw, []byte("boundary="+old), []byte(`boundary="`+repl+`"`))
		raw = bytes.ReplaceAll(raw, []byte("--"+old), []byte("--"+repl))
	}
	return raw
}

// bare strips the angle brackets and spaces around a Message-ID.
func bare(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

// references is the References value of a reply: the original's
// References followed by its Message-ID (RFC 5322 section 3.6.4).
func references(o Original) string {
	var ids []string
	seen := map[string]bool{}
	add := func(s string) {
		if s = bare(s); s != "" && !seen[s] && !strings.ContainsAny(s, " \t\r\n<>") {
			seen[s] = true
			ids = append(ids, "<"+s+">")
		}
	}
	for _, r := range o.References {
		// A References element may itself hold several ids.
		for _, f := range strings.Fields(strings.ReplaceAll(strings.ReplaceAll(r, "<", " <"), ">", "> ")) {
			add(f)
		}
	}
	add(o.MessageID)
	return strings.Join(ids, " ")
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|aw|sv|antw)(\[\d+\])?\s*:\s*)+`)

// replySubject is "Re: <original subject> [<receipt>]", with no "Re: Re:"
// and no doubled receipt; an empty subject falls back to the call title.
func replySubject(orig, fallback, receipt string) string {
	s := strings.Join(strings.Fields(orig), " ")
	s = replyPrefix.ReplaceAllString(s, "")
	if receipt != "" {
		s = strings.TrimSpace(strings.ReplaceAll(s, "["+receipt+"]", ""))
	}
	if s == "" {
		s = fallback
	}
	if s == "" {
		s = "Your submission"
	}
	s = "Re: " + s
	if receipt != "" {
		s += " [" + receipt + "]"
	}
	return s
}

// plural is "1 row" or "2 rows".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}
