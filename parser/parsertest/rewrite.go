package parsertest

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// RewritePart returns a copy of the workbook (zip) data with one part
// changed by edit: a producer's quirk or damage made from a generated file.
func RewritePart(tb testing.TB, data []byte, part string, edit func([]byte) []byte) []byte {
	tb.Helper()
	found := false
	out := rewriteZip(tb, data, nil, func(name string, body []byte) []byte {
		if name != part {
			return body
		}
		found = true
		return edit(body)
	}, nil)
	if !found {
		tb.Fatalf("no part %s", part)
	}
	return out
}

// AddPart returns a copy of the workbook (zip) data with one more part.
func AddPart(tb testing.TB, data []byte, part string, body []byte) []byte {
	tb.Helper()
	return rewriteZip(tb, data, nil, func(_ string, b []byte) []byte { return b }, map[string][]byte{part: body})
}

// BackslashNames returns a copy of the workbook (zip) data whose entry
// names use backslashes ("xl\workbook.xml"), as some producers write them.
func BackslashNames(tb testing.TB, data []byte) []byte {
	tb.Helper()
	return rewriteZip(tb, data, func(name string) string { return strings.ReplaceAll(name, "/", `\`) },
		func(_ string, b []byte) []byte { return b }, nil)
}

// rewriteZip copies a zip, renaming entries by rename (nil: as they are),
// changing their bodies by edit, and adding extra entries.
func rewriteZip(tb testing.TB, data []byte, rename func(string) string, edit func(name string, body []byte) []byte, extra map[string][]byte) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, body []byte) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		name := f.Name
		if rename != nil {
			name = rename(name)
		}
		write(name, edit(f.Name, b.Bytes()))
	}
	for name, body := range extra {
		write(name, body)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
