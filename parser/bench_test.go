package parser_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
	"intake/parser/sheet"
)

// bigPositionReport writes a position report of n rows x 12 columns with
// the excelize StreamWriter, redesignation dates as date cells.
func bigPositionReport(tb testing.TB, n int) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	dateStyle, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	head := make([]any, len(parsertest.PositionHeaders))
	for i, h := range parsertest.PositionHeaders {
		head[i] = h
	}
	if err := sw.SetRow("A1", head); err != nil {
		tb.Fatal(err)
	}
	good := parsertest.GoodPositions()
	row := make([]any, 12)
	for i := 0; i < n; i++ {
		p := good[i%len(good)]
		row[0], row[1], row[2], row[3], row[4] = p.AgencyCode, p.Component, fmt.Sprintf("HS-%07d", i), p.Title, p.Organization
		row[5], row[6], row[7] = p.Designation2021, p.NoncareerMajority, p.CurrentDesignation
		if p.RedesignationDate != "" {
			t, _ := time.Parse(time.DateOnly, p.RedesignationDate)
			row[8] = excelize.Cell{StyleID: dateStyle, Value: t}
		} else {
			row[8] = nil
		}
		row[9], row[10], row[11] = p.ReversionStatus, p.IncumbentType, "Row notes for the position"
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	// StreamWriter writes <dimension ref="A1">: give the real range, or
	// readers that trust it read one row.
	if err := f.SetSheetDimension("Sheet1", fmt.Sprintf("A1:L%d", n+1)); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var big100k = sync.OnceValues(func() ([]byte, error) {
	var data []byte
	var err error
	tb := &onceTB{}
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		data = bigPositionReport(tb, 100_000)
	}()
	return data, err
})

// onceTB lets the workbook be made once for all benchmark runs.
type onceTB struct{ testing.TB }

func (onceTB) Helper()                   {}
func (onceTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (onceTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func BenchmarkCheck100k(b *testing.B) {
	data, err := big100k()
	if err != nil {
		b.Fatal(err)
	}
	def := ses(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		sub := parser.Check(def, []parser.Input{{Name: "big.xlsx", Data: data}}, parser.Context{Agency: "HS"})
		if len(sub.Records) != 100_000 || sub.Deficient() {
			b.Fatalf("records %d findings %d", len(sub.Records), len(sub.Findings))
		}
	}
}

// BenchmarkRead100k reads the same workbook without checking it: the
// difference to BenchmarkCheck100k is what validation costs.
func BenchmarkRead100k(b *testing.B) {
	data, err := big100k()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		wb, err := sheet.Open(data, sheet.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		rows, err := wb.Rows(wb.Sheets()[0])
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n += len(rows.Row().Cells)
		}
		rows.Close()
		wb.Close()
		if n < 1_000_000 {
			b.Fatalf("%d cells", n)
		}
	}
}

// BenchmarkCheckStream100k is the check as `intake check` and the daemon
// run it: rows go to a sink, none is kept.
func BenchmarkCheckStream100k(b *testing.B) {
	data, err := big100k()
	if err != nil {
		b.Fatal(err)
	}
	def := ses(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		sub, err := parser.CheckStream(context.Background(), def, []parser.Input{{Name: "big.xlsx", Data: data}}, parser.Context{Agency: "HS"},
			func(*parser.Row) error { n++; return nil })
		if err != nil || n != 100_000 || sub.Deficient() {
			b.Fatalf("rows %d findings %d err %v", n, len(sub.Findings), err)
		}
	}
}
