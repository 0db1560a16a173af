package sheet

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// The byte-order marks of UTF-16, big- and little-endian.
var (
	bomBE = []byte{0xFE, 0xFF}
	bomLE = []byte{0xFF, 0xFE}
)

// utf8Package returns the package with every XML part written in UTF-16
// (which the Open Packaging Conventions allow, ECMA-376 Part 2, 8.1.4:
// such a part starts with a byte-order mark; Excel on Windows Phone
// writes them) turned into UTF-8, its XML declaration saying so. Both
// readers read UTF-8 only (excelize, like encoding/xml, refuses the
// declaration's UTF-16 as invalid UTF-8). A package without UTF-16 parts,
// the usual case, is returned as it is, unread beyond the first bytes of
// each part. Other entries are copied compressed as they are. The parts
// are bounded by the limits as they are decoded.
func utf8Package(data []byte, lim Limits) ([]byte, error) {
	zr, err := openZip(data)
	if err != nil {
		return data, nil // the readers report a bad zip themselves
	}
	wide := wideParts(zr)
	if len(wide) == 0 {
		return data, nil
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	var total int64
	for _, f := range zr.File {
		if !wide[f] {
			raw, err := f.OpenRaw()
			if err != nil {
				return nil, fmt.Errorf("sheet: utf-16 part %s: %w", f.Name, err)
			}
			w, err := zw.CreateRaw(&f.FileHeader)
			if err == nil {
				_, err = io.Copy(w, raw)
			}
			if err != nil {
				return nil, fmt.Errorf("sheet: utf-16 part %s: %w", f.Name, err)
			}
			continue
		}
		text, err := decodeUTF16(f, lim)
		if err != nil {
			return nil, err
		}
		total += int64(len(text))
		if lim.MaxTotalBytes > 0 && total > lim.MaxTotalBytes {
			return nil, fmt.Errorf("%w: over %d bytes decompressed", ErrTooLarge, lim.MaxTotalBytes)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err == nil {
			_, err = w.Write(text)
		}
		if err != nil {
			return nil, fmt.Errorf("sheet: utf-16 part %s: %w", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("sheet: utf-16 package: %w", err)
	}
	return out.Bytes(), nil
}

// wideParts are the XML parts of zr written in UTF-16 (they start with a
// byte-order mark); only the first two bytes of each part are read.
func wideParts(zr *zip.Reader) map[*zip.File]bool {
	wide := map[*zip.File]bool{}
	for _, f := range zr.File {
		if !xmlPartName(f.Name) || f.UncompressedSize64 < 2 {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue // the readers report the entry themselves
		}
		head := make([]byte, 2)
		_, err = io.ReadFull(rc, head)
		rc.Close()
		if err == nil && (bytes.Equal(head, bomBE) || bytes.Equal(head, bomLE)) {
			wide[f] = true
		}
	}
	return wide
}

// xmlPartName reports the zip entries that hold XML parts.
func xmlPartName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".xml") || strings.HasSuffix(n, ".rels") || strings.HasSuffix(n, ".vml")
}

// utf16Decl is an XML declaration's encoding naming UTF-16.
var utf16Decl = regexp.MustCompile(`(?i)^(<\?xml[^>]*?encoding\s*=\s*["'])utf-16(?:be|le)?(["'])`)

// decodeUTF16 reads a UTF-16 part (with its byte-order mark) as UTF-8,
// within MaxPartBytes.
func decodeUTF16(f *zip.File, lim Limits) ([]byte, error) {
	if lim.MaxPartBytes > 0 && f.UncompressedSize64 > uint64(lim.MaxPartBytes) {
		return nil, fmt.Errorf("%w: part %s is %d bytes decompressed (limit %d)", ErrTooLarge, f.Name, f.UncompressedSize64, lim.MaxPartBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("sheet: utf-16 part %s: %w", f.Name, err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if lim.MaxPartBytes > 0 {
		src = io.LimitReader(rc, lim.MaxPartBytes+1)
	}
	// ExpectBOM: the mark says which byte order follows, and is dropped.
	dec := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()
	text, err := io.ReadAll(transform.NewReader(src, dec))
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) {
			return nil, err
		}
		return nil, fmt.Errorf("sheet: utf-16 part %s: %w", f.Name, err)
	}
	if lim.MaxPartBytes > 0 && int64(len(text)) > lim.MaxPartBytes {
		return nil, fmt.Errorf("%w: part %s is over %d bytes decompressed", ErrTooLarge, f.Name, lim.MaxPartBytes)
	}
	return utf16Decl.ReplaceAll(text, []byte("${1}UTF-8${2}")), nil
}
