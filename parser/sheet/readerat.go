package sheet

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// OpenReaderAt is Open for a workbook read from r (a file on disk, say)
// of size bytes: the streaming reader reads the parts it needs through r
// and never holds the file whole. Only the excelize fallback, which
// needs the whole file, reads it into memory.
func OpenReaderAt(r io.ReaderAt, size int64, lim Limits) (Workbook, error) {
	return openAt(r, size, nil, lim)
}

// openAt is Open and OpenReaderAt; data is the whole file when the caller
// holds it, nil otherwise.
func openAt(r io.ReaderAt, size int64, data []byte, lim Limits) (Workbook, error) {
	whole := func() ([]byte, error) {
		if data != nil {
			return data, nil
		}
		return readAll(r, size)
	}
	w, err := openStreamAt(r, size, data, lim)
	switch {
	case errors.Is(err, ErrUnsupported):
		d, rerr := whole()
		if rerr != nil {
			return nil, rerr
		}
		return OpenExcelize(d, lim)
	case errors.Is(err, ErrNotXLSX) && SniffReaderAt(r, size) == nil:
		// A zip the stream reader finds no workbook in: excelize has
		// rules of its own for finding parts, so it has the last word.
		if d, rerr := whole(); rerr == nil {
			if x, xerr := OpenExcelize(d, lim); xerr == nil {
				return x, nil
			}
		}
	}
	return w, err
}

// SniffReaderAt is Sniff for a file read through r.
func SniffReaderAt(r io.ReaderAt, size int64) error {
	head := make([]byte, min(size, int64(len(oleMagic))))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return fmt.Errorf("%w: %v", ErrNotXLSX, err)
	}
	if bytes.HasPrefix(head, oleMagic) {
		data, err := readAll(r, size) // an OLE file: the stream names are anywhere in it
		if err != nil {
			return err
		}
		return Sniff(data)
	}
	return Sniff(head)
}

// openStreamAt is OpenStream over r; data is the whole file when the
// caller holds it (the fallback then needs no copy), nil otherwise.
func openStreamAt(r io.ReaderAt, size int64, data []byte, lim Limits) (Workbook, error) {
	if err := SniffReaderAt(r, size); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) { // names are only looked up (see openZip)
		err = nil
	}
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("%w: %v", ErrNotXLSX, err)
		}
		return nil, fmt.Errorf("stream: zip: %w", err)
	}
	if len(wideParts(zr)) > 0 {
		// UTF-16 parts (rare): the package is read whole and its parts
		// turned into UTF-8 (utf8Package) before it is read as any other.
		d := data
		if d == nil {
			if d, err = readAll(r, size); err != nil {
				return nil, err
			}
		}
		if d, err = utf8Package(d, lim); err != nil {
			return nil, err
		}
		return openStreamAt(bytes.NewReader(d), int64(len(d)), d, lim)
	}
	b, err := newStreamBook(data, zr, lim)
	if err != nil {
		return nil, err
	}
	b.ra, b.size = r, size
	if err := b.load(); err != nil {
		return nil, err
	}
	return b, nil
}

// bytes returns the whole file, for the excelize fallback.
func (b *streamBook) bytes() ([]byte, error) {
	if b.data != nil {
		return b.data, nil
	}
	return readAll(b.ra, b.size)
}

func readAll(r io.ReaderAt, size int64) ([]byte, error) {
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("stream: read: %w", err)
	}
	return data, nil
}
