package mailfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
)

// mbox splits an mbox file: a message begins at each line that starts
// with "From " (RFC 4155); a line of the body that began so was written
// with a '>' in front, which is taken off again (mboxrd: one '>' from
// each ">From ", ">>From ", ...).
type mbox struct {
	r    *bufio.Reader
	max  int64
	n    int    // messages read
	sep  []byte // the separator line of the next message, once read
	done bool
}

func (m *mbox) next() (*Message, error) {
	if m.done {
		return nil, io.EOF
	}
	if m.sep == nil {
		line, err := m.line()
		if errors.Is(err, io.EOF) && len(line) == 0 {
			m.done = true
			return nil, io.EOF
		} else if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		m.sep = line
	}
	m.n++
	msg := &Message{Where: fmt.Sprintf("#%d", m.n), Date: separatorDate(m.sep)}
	var raw []byte
	inHeader, prevBlank := true, false
	for {
		line, err := m.line()
		if errors.Is(err, io.EOF) && len(line) == 0 {
			m.done = true
			break
		} else if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if bytes.HasPrefix(line, []byte("From ")) && (prevBlank || len(raw) == 0) {
			m.sep = line
			break
		}
		blank := len(bytes.TrimRight(line, "\r\n")) == 0
		if unq := bytes.TrimLeft(line, ">"); len(unq) < len(line) && bytes.HasPrefix(unq, []byte("From ")) {
			line = line[1:]
		}
		msg.Size += int64(len(line))
		if !msg.Truncated && msg.Size > m.max {
			// Too large: keep the header only, and count the rest.
			msg.Truncated = true
			raw = headerOf(raw)
		}
		if !msg.Truncated || inHeader {
			raw = append(raw, line...)
		}
		if blank {
			inHeader = false
		}
		prevBlank = blank
	}
	// The blank line before the next separator (or the end) belongs to
	// the file, not to the message.
	if !msg.Truncated {
		raw = trimFinalBlank(raw)
	}
	msg.Raw = raw
	if d := headerDate(raw); !d.IsZero() && msg.Date.IsZero() {
		msg.Date = d
	}
	return msg, nil
}

// line reads one whole line, however long.
func (m *mbox) line() ([]byte, error) {
	var out []byte
	for {
		chunk, err := m.r.ReadSlice('\n')
		out = append(out, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return out, err
	}
}

// headerOf returns the header block of a partial message.
func headerOf(raw []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return raw[:i+len(sep)]
		}
	}
	return raw
}

func trimFinalBlank(raw []byte) []byte {
	switch {
	case bytes.HasSuffix(raw, []byte("\r\n\r\n")):
		return raw[:len(raw)-2]
	case bytes.HasSuffix(raw, []byte("\n\n")):
		return raw[:len(raw)-1]
	}
	return raw
}

// separatorDate reads the date of a "From sender date" line: asctime
// ("Mon Jan  2 15:04:05 2006"), as RFC 4155 asks, in UTC.
func separatorDate(line []byte) time.Time {
	f := strings.Fields(strings.TrimSpace(string(line)))
	if len(f) < 7 {
		return time.Time{}
	}
	for _, layout := range []string{time.ANSIC, "Mon Jan 2 15:04:05 2006"} {
		if t, err := time.Parse(layout, strings.Join(f[len(f)-5:], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}

// mailDate parses a Date field (RFC 5322, with the usual deviations).
func mailDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("no date")
	}
	return mail.ParseDate(v)
}
