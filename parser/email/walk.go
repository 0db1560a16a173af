package email

import (
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// walker visits the MIME tree of one message within the limits.
type walker struct {
	lim      Limits
	m        *Message
	parts    int   // parts seen so far
	attBytes int64 // attachment bytes kept so far
	stopped  bool  // the part limit was hit: nothing more is read
}

// maxReportBytes bounds what is kept of a delivery-status or
// rfc822-headers part.
const maxReportBytes = 64 << 10

// entity visits e, at nesting depth depth; attached is true inside an
// attached (forwarded) message.
func (w *walker) entity(e *message.Entity, depth int, attached bool) {
	if w.stopped {
		return
	}
	mediaType, params, err := e.Header.ContentType()
	if err != nil || mediaType == "" {
		if err != nil && e.Header.Has("Content-Type") {
			w.m.problem("unreadable Content-Type %q: read as text/plain", truncateUTF8(e.Header.Get("Content-Type"), 80))
		}
		mediaType = "text/plain"
		if e.Header.Has("Content-Type") && looksLikeAttachment(e) {
			mediaType = "application/octet-stream"
		}
	}
	mediaType = strings.ToLower(mediaType)
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		w.multipart(e, params, depth, attached)
	case mediaType == "message/rfc822" || mediaType == "message/global":
		// Walked, not kept: forwarded mail carries the workbook inside.
		w.rfc822(e, depth)
	case mediaType == "message/delivery-status" || mediaType == "message/global-delivery-status":
		data, _, err := readLimited(e.Body, maxReportBytes)
		if err != nil {
			w.readProblem("delivery-status", err)
		}
		if !attached { // a report inside forwarded mail is not about this mail
			w.m.dsn = append(w.m.dsn, data)
		}
	case mediaType == "message/disposition-notification" || mediaType == "message/global-disposition-notification":
		// A read receipt (RFC 8098), wherever it sits in this mail's own
		// structure; one inside forwarded mail is not about this mail.
		if !attached {
			w.m.mdn = true
		}
		w.leaf(e, mediaType, attached)
	case mediaType == "text/rfc822-headers" || mediaType == "message/global-headers":
		data, _, err := readLimited(e.Body, maxReportBytes)
		if err != nil {
			w.readProblem("rfc822-headers", err)
		}
		if h, _, _ := splitHeader(data); len(h) > 0 {
			if inner, err := message.Read(strings.NewReader(string(h))); err == nil {
				w.embed(mail.Header{Header: inner.Header}, true)
			}
		}
	default:
		w.leaf(e, mediaType, attached)
	}
}

// looksLikeAttachment: a part with a damaged Content-Type but a file name.
func looksLikeAttachment(e *message.Entity) bool {
	return rawFilename(e.Header) != ""
}

func (w *walker) multipart(e *message.Entity, params map[string]string, depth int, attached bool) {
	if depth >= w.lim.MaxDepth {
		w.m.problem("multipart nested deeper than %d: its parts are skipped", w.lim.MaxDepth)
		w.m.Incomplete = true
		return
	}
	if params["boundary"] == "" {
		w.m.problem("multipart without boundary: read as text")
		w.leaf(e, "text/plain", attached)
		return
	}
	mr := e.MultipartReader()
	if mr == nil {
		return
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil && p == nil {
			if strings.Contains(err.Error(), "EOF") {
				w.m.problem("truncated MIME: multipart ends without its final boundary")
			} else {
				w.m.problem("damaged multipart: %v", err)
			}
			return
		}
		w.parts++
		if w.parts > w.lim.MaxParts {
			w.m.problem("more than %d MIME parts: the rest is skipped", w.lim.MaxParts)
			w.stopped = true
			w.m.Incomplete = true
			return
		}
		if err != nil {
			// Unknown charset or transfer encoding: the body is read as is.
			w.m.problem("part %d: %v", w.parts, err)
		}
		if n := headerSize(p.Header); n > w.lim.MaxHeaderBytes {
			w.m.problem("part %d: header of %d bytes over the %d limit: part skipped", w.parts, n, w.lim.MaxHeaderBytes)
			w.m.Incomplete = true
			continue
		}
		w.entity(p, depth+1, attached)
		if w.stopped {
			return
		}
	}
}

// headerSize is the size of a header block as received.
func headerSize(h message.Header) int {
	n := 2
	f := h.Fields()
	for f.Next() {
		if raw, err := f.Raw(); err == nil {
			n += len(raw)
		} else {
			n += len(f.Key()) + len(f.Value()) + 4
		}
	}
	return n
}

// rfc822 walks an attached message (forwarded mail, a bounce's returned
// message): its attachments count as the message's own.
func (w *walker) rfc822(e *message.Entity, depth int) {
	if depth >= w.lim.MaxDepth {
		w.m.problem("attached message nested deeper than %d: skipped", w.lim.MaxDepth)
		w.m.Incomplete = true
		return
	}
	inner, err := message.ReadWithOptions(e.Body, &message.ReadOptions{MaxHeaderBytes: int64(w.lim.MaxHeaderBytes)})
	if inner == nil {
		if err != nil {
			w.m.problem("attached message unreadable: %v", err)
		}
		return
	}
	if err != nil {
		w.m.problem("attached message: %v", err)
	}
	w.embed(mail.Header{Header: inner.Header}, false)
	w.entity(inner, depth+1, true)
}

func (w *walker) embed(h mail.Header, headersOnly bool) {
	const maxEmbedded = 20
	if len(w.m.embedded) >= maxEmbedded {
		return
	}
	id, err := h.MessageID()
	if err != nil || id == "" {
		if ids := lenientIDs(h.Get("Message-Id")); len(ids) > 0 {
			id = ids[0]
		}
	}
	w.m.embedded = append(w.m.embedded, embedded{header: h, messageID: id, headers: headersOnly})
}

func (w *walker) readProblem(what string, err error) {
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "EOF") {
		w.m.problem("truncated MIME: %s part cut short", what)
		return
	}
	w.m.problem("%s part: %v", what, err)
}

// leaf handles a non-multipart part: an attachment, the text body, or
// something ignored (HTML body, inline images without a name).
func (w *walker) leaf(e *message.Entity, mediaType string, attached bool) {
	disp, _, _ := e.Header.ContentDisposition()
	disp = strings.ToLower(disp)
	ah := mail.AttachmentHeader{Header: e.Header}
	name := extendedFilename(e.Header)
	if name == "" {
		name, _ = ah.Filename()
	}
	if name == "" {
		name = rawFilename(e.Header)
	}
	isText := mediaType == "text/plain" || mediaType == "text/html"
	isAttachment := disp == "attachment" || name != "" || spreadsheetType(mediaType) ||
		(!isText && !strings.HasPrefix(mediaType, "image/") && !strings.HasPrefix(mediaType, "text/") && mediaType != "application/pgp-signature" && mediaType != "application/pkcs7-signature")
	if !isAttachment {
		if isText {
			data, _, err := readLimited(e.Body, MaxTextBytes)
			if err != nil {
				w.readProblem(mediaType, err)
			}
			w.m.textAll.add(data)
			if mediaType == "text/plain" && w.m.Text == "" && !attached {
				w.m.Text = strings.ReplaceAll(toUTF8(string(data)), "\r\n", "\n")
			}
		}
		return
	}
	display := SanitizeFilename(toUTF8(name))
	if name == "" {
		display = "part-" + strconv.Itoa(w.parts) + extensionFor(mediaType)
	}
	room := w.lim.MaxAttachmentsBytes - w.attBytes
	limit := min(w.lim.MaxPartBytes, room)
	data, over, err := readLimited(e.Body, limit)
	if over {
		w.m.Unread = append(w.m.Unread, Unread{Name: display, ContentType: mediaType, Limit: limit, Total: limit != w.lim.MaxPartBytes})
		if limit == w.lim.MaxPartBytes {
			w.m.problem("attachment %q over the %d-byte part limit: skipped", display, w.lim.MaxPartBytes)
		} else {
			w.m.problem("attachment %q over the %d-byte total attachment limit: skipped", display, w.lim.MaxAttachmentsBytes)
		}
		return
	}
	if err != nil {
		w.readProblem("attachment "+strconv.Quote(display), err)
	}
	w.attBytes += int64(len(data))
	w.m.Attachments = append(w.m.Attachments, Attachment{Name: display, ContentType: mediaType, Data: data})
}

// nameParam finds name= or filename= in a damaged header value.
var nameParam = regexp.MustCompile(`(?i)(?:^|;)\s*(?:file)?name\*?(?:\*0\*?)?\s*=\s*("[^"]*"|[^;]*)`)

// rawFilename recovers a file name from Content-Disposition or Content-Type
// when their strict parse failed (unquoted spaces and the like).
func rawFilename(h message.Header) string {
	for _, key := range []string{"Content-Disposition", "Content-Type"} {
		if mm := nameParam.FindStringSubmatch(h.Get(key)); mm != nil {
			v := strings.TrimSpace(strings.Trim(strings.TrimSpace(mm[1]), `"`))
			if v != "" {
				return decodeWords(v)
			}
		}
	}
	return ""
}

// extensionFor gives a file extension for a nameless part of a known type.
func extensionFor(mediaType string) string {
	switch mediaType {
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return ".xlsx"
	case "application/vnd.ms-excel.sheet.macroenabled.12":
		return ".xlsm"
	case "application/vnd.ms-excel":
		return ".xls"
	case "text/csv", "application/csv", "text/comma-separated-values", "application/x-csv":
		return ".csv"
	case "application/pdf":
		return ".pdf"
	case "message/rfc822":
		return ".eml"
	}
	return ".bin"
}
