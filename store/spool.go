package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"intake/parser"
)

// Spool holds the records of one submission on disk while it is checked,
// so that no record of a large submission stays in memory: the check hands
// each row to Add as it is read, and Complete reads them back inside its
// one transaction (NewSubmission.Spool). Each row is written as it will be
// stored: kind, file, sheet, row and the fields as the JSON object the
// records table holds (appendFields' encoding), so storing is a copy.
//
// The file is a temporary file of mode 0600 in the store's directory
// (records may hold personal data: readable by the daemon's user only, on
// the same file system as the store). On Unix it is unlinked as soon as
// it is made, so a crash leaves nothing behind; Close releases it. A Spool
// is used by one goroutine at a time.
type Spool struct {
	f      *os.File
	path   string // "" once unlinked
	w      *bufio.Writer
	n      int
	buf    []byte
	perm   map[*string][]int // per Row.Keys (shared by a kind's rows): the keys' order when sorted
	closed bool
	sealed bool       // read back already: nothing more may be added
	mu     sync.Mutex // Close may come from another goroutine than Add (an abandoned check)
}

// NewSpool makes an empty spool in the store's directory.
func (s *Store) NewSpool() (*Spool, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), ".intake-spool-*")
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	sp := &Spool{f: f, path: f.Name(), w: bufio.NewWriterSize(f, 256<<10), perm: map[*string][]int{}}
	// CreateTemp makes the file 0600 already; say so explicitly, in case
	// the platform's default differs.
	if err := f.Chmod(0o600); err != nil {
		sp.Close()
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	if os.Remove(sp.path) == nil {
		sp.path = "" // unlinked: the open file lives on until Close
	}
	return sp, nil
}

// Len is the number of rows added (0 for a nil Spool).
func (sp *Spool) Len() int {
	if sp == nil {
		return 0
	}
	return sp.n
}

// Add appends one row (a parser.RowSink). The row may be reused by the
// caller once Add returns.
func (sp *Spool) Add(r *parser.Row) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed || sp.sealed {
		return errors.New("store: spool: closed for adding")
	}
	if len(r.Keys) != len(r.Values) {
		return fmt.Errorf("store: spool: row %d of %s has %d keys and %d values", r.Num, r.Sheet, len(r.Keys), len(r.Values))
	}
	b := sp.buf[:0]
	b = appendSpoolString(b, r.Kind)
	b = appendSpoolString(b, r.File)
	b = appendSpoolString(b, r.Sheet)
	b = binary.AppendUvarint(b, uint64(max(r.Num, 0)))
	// The fields, encoded after a placeholder for their length.
	lenAt := len(b)
	b = append(b, make([]byte, binary.MaxVarintLen64)...)
	start := len(b)
	b = appendRowFields(b, r.Keys, r.Values, sp.sortedOrder(r.Keys))
	n := binary.PutUvarint(b[lenAt:], uint64(len(b)-start))
	b = append(b[:lenAt+n], b[start:]...)
	sp.buf = b
	if _, err := sp.w.Write(b); err != nil {
		return fmt.Errorf("store: spool: %w", err)
	}
	sp.n++
	return nil
}

// sortedOrder is the order in which keys are written (sorted, as
// appendFields writes a map), remembered per kind's key slice.
func (sp *Spool) sortedOrder(keys []string) []int {
	if len(keys) == 0 {
		return nil
	}
	if p, ok := sp.perm[&keys[0]]; ok && len(p) == len(keys) {
		return p
	}
	p := make([]int, len(keys))
	for i := range p {
		p[i] = i
	}
	slices.SortStableFunc(p, func(a, b int) int {
		switch {
		case keys[a] < keys[b]:
			return -1
		case keys[a] > keys[b]:
			return 1
		}
		return 0
	})
	sp.perm[&keys[0]] = p
	return p
}

// appendRowFields writes keys and values as appendFields writes a map:
// a JSON object with sorted keys (a key given twice is written once, the
// last value winning, as a map would hold it).
func appendRowFields(b []byte, keys, values []string, order []int) []byte {
	b = append(b, '{')
	for j, i := range order {
		if j+1 < len(order) && keys[order[j+1]] == keys[i] {
			continue
		}
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = appendJSONString(b, keys[i])
		b = append(b, ':')
		b = appendJSONString(b, values[i])
	}
	return append(b, '}')
}

func appendSpoolString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Close releases the spool and its file. It may be called more than once.
func (sp *Spool) Close() error {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil
	}
	sp.closed = true
	err := sp.f.Close()
	if sp.path != "" {
		err = errors.Join(err, os.Remove(sp.path))
	}
	return err
}

// spooledRecord is one row read back: the fields as stored.
type spooledRecord struct {
	kind, file, sheet string
	row               int
	fields            []byte // valid until the next read
}

// spoolReader reads a spool's rows back from the start.
type spoolReader struct {
	r    *bufio.Reader
	rec  spooledRecord
	data []byte
	left int
}

// reader flushes what was added and reads it from the start; it may be
// called again for another pass. No row can be added after it.
func (sp *Spool) reader() (*spoolReader, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil, errors.New("store: spool: closed")
	}
	if err := sp.w.Flush(); err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	sp.sealed = true
	return &spoolReader{r: bufio.NewReaderSize(sp.f, 256<<10), left: sp.n}, nil
}

// next reads the next row; io.EOF after the last.
func (sr *spoolReader) next() (*spooledRecord, error) {
	if sr.left == 0 {
		return nil, io.EOF
	}
	var err error
	if sr.rec.kind, err = sr.str(sr.rec.kind); err != nil {
		return nil, err
	}
	if sr.rec.file, err = sr.str(sr.rec.file); err != nil {
		return nil, err
	}
	if sr.rec.sheet, err = sr.str(sr.rec.sheet); err != nil {
		return nil, err
	}
	row, err := binary.ReadUvarint(sr.r)
	if err != nil {
		return nil, sr.fail(err)
	}
	sr.rec.row = int(row)
	if sr.data, err = sr.bytes(sr.data); err != nil {
		return nil, err
	}
	sr.rec.fields = sr.data
	sr.left--
	return &sr.rec, nil
}

// str reads a string; the same text as last time reuses last's string, so
// a kind, file or sheet is not allocated per row.
func (sr *spoolReader) str(last string) (string, error) {
	n, err := binary.ReadUvarint(sr.r)
	if err != nil {
		return "", sr.fail(err)
	}
	if p, err := sr.r.Peek(int(n)); err == nil && string(p) == last {
		_, _ = sr.r.Discard(int(n))
		return last, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(sr.r, b); err != nil {
		return "", sr.fail(err)
	}
	return string(b), nil
}

func (sr *spoolReader) bytes(buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(sr.r)
	if err != nil {
		return nil, sr.fail(err)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(sr.r, buf); err != nil {
		return nil, sr.fail(err)
	}
	return buf, nil
}

func (sr *spoolReader) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("store: spool: read: %w", err)
}

// Rows hands fn each row added, in order, as a parser.Row (for the version
// diff, parser.Differ.New). The Row is valid only during the call; rows of
// a kind share their Keys. An error from fn, or ctx ending, stops it.
func (sp *Spool) Rows(ctx context.Context, fn func(*parser.Row) error) error {
	sr, err := sp.reader()
	if err != nil {
		return err
	}
	keysOf := map[string][]string{} // kind -> the keys of its last row
	fields := map[string]string{}
	row := &parser.Row{}
	for i := 0; ; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := sr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		clear(fields)
		if err := decodeFieldsInto(rec.fields, fields); err != nil {
			return err
		}
		keys := keysOf[rec.kind]
		if !sameKeys(keys, fields) {
			keys = make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			keysOf[rec.kind] = keys
		}
		row.Kind, row.File, row.Sheet, row.Num, row.Keys = rec.kind, rec.file, rec.sheet, rec.row, keys
		row.Values = row.Values[:0]
		for _, k := range keys {
			row.Values = append(row.Values, fields[k])
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func sameKeys(keys []string, fields map[string]string) bool {
	if keys == nil || len(keys) != len(fields) {
		return false
	}
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			return false
		}
	}
	return true
}
