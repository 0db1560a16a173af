package parsertest

import (
	"archive/zip"
	"bytes"
	"testing"
)

// RewritePart returns a copy of the workbook (zip) data with one part changed by
// edit: a producer's quirk or damage made from a generated file.
func RewritePart(tb testing.TB, data []byte, part string, edit func([]byte) []byte) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		body := b.Bytes()
		if f.Name == part {
			body, found = edit(body), true
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if !found {
		tb.Fatalf("no part %s", part)
	}
	return buf.Bytes()
}
