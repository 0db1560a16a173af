package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
	"intake/store"
)

// positionReport100k writes a 100,000-row position report as Excel would
// fill the template: one sheet, the official headers, a real date column.
// Rows vary as a real report does (titles, organisations, dates, and four
// valid combinations of designation, status and incumbent), so neither
// the reader nor the rule cache sees one row repeated.
func positionReport100k(b *testing.B, rows int) []byte {
	b.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		b.Fatal(err)
	}
	header := make([]any, len(parsertest.PositionHeaders))
	for i, h := range parsertest.PositionHeaders {
		header[i] = h
	}
	if err := sw.SetRow("A1", header); err != nil {
		b.Fatal(err)
	}
	// designation 2021, majority, current, redesignated, status, incumbent
	combos := [][6]any{
		{"General", "Y", "General", false, "Not applicable", "Noncareer"},
		{"General", "N", "Career Reserved", true, "In process", "Career"},
		{"General", "N", "General", true, "Reverted to General", "Vacant"},
		{"Career Reserved", "N", "Career Reserved", false, "Not applicable", "Career"},
	}
	first := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	for r := 0; r < rows; r++ {
		cell, _ := excelize.CoordinatesToCellName(1, r+2)
		c := combos[r%len(combos)]
		var date any
		if c[3].(bool) {
			date = excelize.Cell{StyleID: dateStyle, Value: first.AddDate(0, 0, r%1400)}
		}
		row := []any{"HS", fmt.Sprintf("HS%02d", r%20), fmt.Sprintf("HS-%06d", r), fmt.Sprintf("Deputy Assistant Secretary for Programs %d", r%113),
			fmt.Sprintf("Office of the Under Secretary, Division %d", r%59), c[0], c[1], c[2], date, c[4], c[5], fmt.Sprintf("row %d", r)}
		if err := sw.SetRow(cell, row); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.SetSheetName("Sheet1", parsertest.PositionSheet); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkWholeCheck100k is the whole check of a 100,000-row submission:
// read the workbook, validate every cell, store the records in one
// transaction (target: under 1.5 s).
func BenchmarkWholeCheck100k(b *testing.B) {
	const rows = 100_000
	data := positionReport100k(b, rows)
	defs, err := parser.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	reg, err := parser.NewRegistry(defs...)
	if err != nil {
		b.Fatal(err)
	}
	def := reg.Get("ses-designation-review")
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sub := parser.Check(def, []parser.Input{{Name: "report.xlsx", Data: data}}, parser.Context{Now: now, Agency: "HS", Limits: parser.DefaultLimits()})
		if len(sub.Records) != rows || sub.Deficient() {
			b.Fatalf("%d records, %d findings, first %+v", len(sub.Records), len(sub.Findings), sub.Findings[:min(len(sub.Findings), 1)])
		}
		b.StopTimer()
		id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1), DedupeKey: fmt.Sprint(i),
			SHA256: fmt.Sprint(i), Raw: []byte("x"), ReceivedAt: now, InternalDate: now})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := st.Complete(ctx, store.Completion{Message: id, Status: store.StatusAccepted, Folder: "Accepted", Now: now,
			Submission: &store.NewSubmission{Receipt: fmt.Sprintf("SES-2025-%06d", id), Call: def.ID, Agency: "HS", Accepted: true,
				ReceivedAt: now, Files: []store.File{{Name: "report.xlsx", Data: data}}, Result: sub}}); err != nil {
			b.Fatal(err)
		}
	}
}
