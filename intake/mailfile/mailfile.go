// Package mailfile reads mail exported to files, for `intake import`: an
// mbox file (one file, messages after "From " separator lines, as
// Thunderbird, Gmail's Takeout, mutt and Apple Mail write it), a Maildir
// (cur/ and new/, one file a message) or a directory of .eml files (as
// Outlook saves messages). It reads; it decides nothing.
package mailfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Message is one message read from a file.
type Message struct {
	Raw []byte
	// Truncated: the message was larger than the limit, and Raw holds its
	// header only (the pipeline answers it with what to send instead).
	Truncated bool
	Size      int64     // its whole size
	Date      time.Time // when it was received, as the file says (zero: unknown)
	Where     string    // where it is in the source, for logs: "#12" or a file name
}

// Source is an opened mbox file or mail directory.
type Source struct {
	// Total is how much Next will go through: bytes of an mbox file, files
	// of a directory; Done is how far it went (progress).
	Total, Done int64
	// Kind is "mbox", "maildir" or "eml".
	Kind string

	maxBytes int64
	next     func() (*Message, error)
	close    func() error
}

// Open opens path: a directory is read as a Maildir when it has cur/ or
// new/, else as a directory of .eml files; a file as mbox. A message over
// maxBytes is read header-only (Truncated).
func Open(path string, maxBytes int64) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("mailfile: %w", err)
	}
	s := &Source{maxBytes: maxBytes}
	if fi.IsDir() {
		return s, s.openDir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mailfile: %w", err)
	}
	s.Kind, s.Total, s.close = "mbox", fi.Size(), f.Close
	m := &mbox{r: bufio.NewReaderSize(&counter{r: f, n: &s.Done}, 64<<10), max: maxBytes}
	// An mbox starts with a separator: anything else is not one.
	first, err := m.r.Peek(5)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("mailfile: %s: %w", path, err)
	}
	if len(first) > 0 && string(first) != "From " {
		f.Close()
		return nil, fmt.Errorf("mailfile: %s is not an mbox file (it does not start with a \"From \" line)", path)
	}
	s.next = m.next
	return s, nil
}

// Next returns the next message, or io.EOF after the last.
func (s *Source) Next() (*Message, error) { return s.next() }

// Close closes the source.
func (s *Source) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}

func (s *Source) openDir(dir string) error {
	var files []string
	isMaildir := false
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("mailfile: %w", err)
		}
		isMaildir = true
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	s.Kind = "maildir"
	if !isMaildir {
		s.Kind = "eml"
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("mailfile: %w", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".eml") {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
		if len(files) == 0 {
			return fmt.Errorf("mailfile: %s is neither a Maildir (no cur/ or new/) nor a directory of .eml files", dir)
		}
	}
	// Maildir names begin with the delivery time: sorted by name is
	// sorted by arrival, give or take the same second.
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	s.Total = int64(len(files))
	s.next = func() (*Message, error) {
		if s.Done >= int64(len(files)) {
			return nil, io.EOF
		}
		name := files[s.Done]
		s.Done++
		return readFile(name, s.maxBytes)
	}
	return nil
}

// readFile reads one message file.
func readFile(name string, maxBytes int64) (*Message, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("mailfile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("mailfile: %w", err)
	}
	m := &Message{Size: fi.Size(), Where: filepath.Base(name)}
	if fi.Size() > maxBytes {
		hdr, err := readHeader(bufio.NewReader(io.LimitReader(f, maxBytes)))
		if err != nil {
			return nil, fmt.Errorf("mailfile: %s: %w", name, err)
		}
		m.Raw, m.Truncated = hdr, true
	} else if m.Raw, err = io.ReadAll(f); err != nil {
		return nil, fmt.Errorf("mailfile: %w", err)
	}
	m.Date = headerDate(m.Raw)
	if m.Date.IsZero() {
		m.Date = fi.ModTime()
	}
	return m, nil
}

// readHeader returns the header block (up to and with the blank line).
func readHeader(r *bufio.Reader) ([]byte, error) {
	var hdr []byte
	for {
		line, err := r.ReadSlice('\n')
		hdr = append(hdr, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 {
			return hdr, nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return hdr, nil
			}
			return nil, err
		}
	}
}

// headerDate is the message's Date field (zero when absent or unreadable).
func headerDate(raw []byte) time.Time {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return time.Time{}
	}
	t, err := mailDate(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}

// counter counts the bytes read through it into *n.
type counter struct {
	r io.Reader
	n *int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
