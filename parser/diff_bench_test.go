package parser_test

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"intake/parser"
	"intake/parser/parsertest"
)

// BenchmarkDifferOld is the deadline-day diff: a stored version of
// 950,000 position-report rows of 11 fields (the SES position report
// less its notes) streams through Old, then a new version of 6 rows (four
// of the old positions, one of them changed, and two new ones) through
// New, then Changes, which then lists 949,996 removed rows.
//
// It reports the heap the Differ holds after Old, per old row
// (B/old-row: live heap after a GC, less the live heap before NewDiffer),
// and the heap Changes reaches, per old row (peak-B/old-row: run with the
// collector off, so the figure is the live heap before Changes plus all
// Changes allocates, garbage included), and the allocations Changes makes.
func BenchmarkDifferOld(b *testing.B) {
	def := ses(b)
	const n = 950_000
	var keys []string
	for _, c := range def.Kind("position-report").Columns {
		if c.Key != "notes" {
			keys = append(keys, c.Key)
		}
	}
	if len(keys) != 11 {
		b.Fatalf("%d position-report fields, want 11", len(keys))
	}
	good := parsertest.GoodPositions()
	dates := make([]string, 366)
	for i := range dates {
		dates[i] = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly)
	}
	posNum := func(i int) string {
		s := strconv.Itoa(i)
		return "HS-" + "0000000"[len(s):] + s
	}
	// One record, its fields overwritten row by row: Old keeps none of
	// its values (nor the map), so the benchmark holds no rows either.
	rec := parser.Record{Kind: "position-report", File: "v1.xlsx", Sheet: parsertest.PositionSheet, Fields: map[string]string{}}
	fill := func(f map[string]string, i int) {
		p := good[i%len(good)]
		f["agency_code"] = parsertest.Agency
		f["component"] = p.Component
		f["position_number"] = posNum(i)
		f["position_title"] = p.Title
		f["organization"] = p.Organization
		f["designation_2021"] = p.Designation2021
		f["noncareer_majority"] = p.NoncareerMajority
		f["current_designation"] = p.CurrentDesignation
		f["redesignation_date"] = dates[i%len(dates)]
		f["reversion_status"] = p.ReversionStatus
		f["incumbent_type"] = p.IncumbentType
	}
	// The new version: positions 1-4 (3 with a new title), 950,001 and
	// 950,002.
	var newRows []*parser.Row
	for j, i := range []int{1, 2, 3, 4, n + 1, n + 2} {
		f := map[string]string{}
		fill(f, i)
		if i == 3 {
			f["position_title"] = "Assistant Director for Media"
		}
		r := &parser.Row{Kind: "position-report", File: "v2.xlsx", Sheet: parsertest.PositionSheet, Num: j + 2, Keys: keys}
		for _, k := range keys {
			r.Values = append(r.Values, f[k])
		}
		newRows = append(newRows, r)
	}

	var perRow, peak, allocs float64
	for b.Loop() {
		var base, held, before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&base)
		d := parser.NewDiffer(def)
		for i := 1; i <= n; i++ {
			fill(rec.Fields, i)
			rec.Row = i + 1
			d.Old(rec)
		}
		runtime.GC()
		runtime.ReadMemStats(&held)
		perRow = float64(held.HeapAlloc-base.HeapAlloc) / n
		for _, r := range newRows {
			d.New(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		gc := debug.SetGCPercent(-1)
		c := d.Changes()
		runtime.ReadMemStats(&after)
		debug.SetGCPercent(gc)
		peak = float64(after.HeapAlloc-base.HeapAlloc) / n
		allocs = float64(after.Mallocs - before.Mallocs)
		if len(c.Added) != 2 || len(c.Changed) != 1 || len(c.Removed) != n-4 {
			b.Fatalf("added %d changed %d removed %d", len(c.Added), len(c.Changed), len(c.Removed))
		}
		if r := c.Removed[0]; r.Key != "HS-0000005" || r.Row != 6 {
			b.Fatalf("first removed %+v", r)
		}
		runtime.KeepAlive(d)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(perRow, "B/old-row")
	b.ReportMetric(peak, "peak-B/old-row")
	b.ReportMetric(allocs, "changes-allocs")
}
