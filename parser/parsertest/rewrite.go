package parsertest

import (
	"archive/zip"
	"bytes"
	"testing"
)

// RewritePart returns a copy of the workbook (zip) data with one part
// changed by edit: a producer's quirk or damage made from a generated file.
func RewritePart(tb testing.TB, data []byte, part string, edit func([]byte) []byte) []byte {
	tb.Helper()
	found := false
	out := rewriteZip(tb, data, func(name string, body []byte) []byte {
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
	return rewriteZip(tb, data, func(_ string, b []byte) []byte { return b }, map[string][]byte{part: body})
}

func rewriteZip(tb testing.TB, data []byte, edit func(name string, body []byte) []byte, extra map[string][]byte) []byte {
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
		write(f.Name, edit(f.Name, b.Bytes()))
	}
	for name, body := range extra {
		write(name, body)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
