package parser_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"intake/parser"
	"intake/parser/parsertest"
)

func rec(kind string, row int, kv ...string) parser.Record {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return parser.Record{Kind: kind, Row: row, Fields: f}
}

func changeList(l []parser.RowChange) string {
	var out []string
	for _, c := range l {
		s := fmt.Sprintf("%s/%s@%d", c.Kind, c.Key, c.Row)
		if len(c.Fields) > 0 {
			s += "[" + strings.Join(c.Fields, ",") + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// Rows are matched by key (case and spaces ignored), a repeated key by
// its repetition, a row without a key by its position; a field that only
// the old row has, or only the new one, counts as changed when it holds
// a value.
func TestDiffer_matching(t *testing.T) {
	def := ses(t)
	const pr = "position-report"
	old := []parser.Record{
		rec(pr, 2, "position_number", "HS-1", "notes", "a"),
		rec(pr, 3, "position_number", "HS-2", "notes", "b"),
		rec(pr, 4, "position_number", "hs-2 ", "notes", "c"), // a repeated key
		rec(pr, 5, "position_number", "", "notes", "keyless"),
		rec(pr, 6, "position_number", "HS-4", "notes", "d", "retired_column", "x"),
		rec(pr, 7, "position_number", "HS-5"),
	}
	d := parser.NewDiffer(def)
	for _, r := range old {
		d.Old(r)
	}
	newRows := []parser.Record{
		rec(pr, 2, "position_number", "HS-1", "notes", "a"),        // same
		rec(pr, 3, "position_number", "HS-2", "notes", "b"),        // same (first HS-2)
		rec(pr, 4, "position_number", "", "notes", "keyless, now"), // position 3: no old keyless row there
		rec(pr, 5, "position_number", "HS-4", "notes", "d"),        // retired_column gone: changed
		rec(pr, 6, "position_number", "HS-6"),                      // added
		rec(pr, 7, "position_number", "HS-5", "component", "HS01"), // a field filled: changed
	}
	keys := []string{"position_number", "notes", "component"}
	for _, r := range newRows {
		row := &parser.Row{Kind: r.Kind, Num: r.Row, Keys: keys}
		for _, k := range keys {
			row.Values = append(row.Values, r.Fields[k])
		}
		d.New(row)
	}
	c := d.Changes()
	if got, want := changeList(c.Added), pr+"/@4 "+pr+"/HS-6@6"; got != want {
		t.Errorf("added %s, want %s", got, want)
	}
	if got, want := changeList(c.Removed), pr+"/HS-2@4 "+pr+"/@5"; got != want {
		t.Errorf("removed %s, want %s", got, want)
	}
	if got, want := changeList(c.Changed), pr+"/HS-4@5[retired_column] "+pr+"/HS-5@7[component]"; got != want {
		t.Errorf("changed %s, want %s", got, want)
	}
	// Diff over the same records says the same.
	if got := parser.Diff(def, old, newRows); changeList(got.Added)+changeList(got.Removed)+changeList(got.Changed) !=
		changeList(c.Added)+changeList(c.Removed)+changeList(c.Changed) {
		t.Errorf("Diff %+v, Differ %+v", got, c)
	}
}

// The Differ fed as the daemon feeds it (stored records, then the rows
// CheckStream hands over) names what changed.
func TestDiffer_streamed(t *testing.T) {
	def := ses(t)
	old := check(t, def, parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()), parser.Context{}).Records
	p := parsertest.GoodPositions()
	p[3].Title = "Assistant Director for Media"
	p = p[1:]
	d := parser.NewDiffer(def)
	for _, r := range old {
		if r.Kind == "position-report" { // the new version sends positions only
			d.Old(r)
		}
	}
	_, err := parser.CheckStream(context.Background(), def, []parser.Input{{Name: "v2.xlsx", Data: parsertest.SESWorkbook(t, p, nil)}}, parser.Context{},
		func(r *parser.Row) error { d.New(r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	c := d.Changes()
	if got := changeList(c.Added) + "|" + changeList(c.Removed) + "|" + changeList(c.Changed); got != "|position-report/HS-0001@2|position-report/HS-0004@4[position_title]" {
		t.Errorf("changes %s", got)
	}
}

// BenchmarkDiffer100k diffs two versions of 100,000 rows; it reports
// the heap the Differ holds per old row (its key, row number and a 32-bit
// hash per field, never the values).
func BenchmarkDiffer100k(b *testing.B) {
	def := ses(b)
	const n = 100_000
	keys := make([]string, 0, 12)
	for _, c := range def.Kind("position-report").Columns {
		keys = append(keys, c.Key)
	}
	vals := func(i int) []string {
		v := make([]string, len(keys))
		for j := range v {
			v[j] = fmt.Sprintf("value %d of column %d, long enough to matter", i, j)
		}
		v[2] = fmt.Sprintf("HS-%07d", i)
		return v
	}
	old := make([]parser.Record, n)
	for i := range old {
		r := &parser.Row{Kind: "position-report", Num: i + 2, Keys: keys, Values: vals(i)}
		old[i] = r.Record()
	}
	b.ResetTimer()
	var perRow float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := parser.NewDiffer(def)
		for _, r := range old {
			d.Old(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRow = float64(after.HeapAlloc-before.HeapAlloc) / n
		row := &parser.Row{Kind: "position-report", Keys: keys}
		for i := 0; i < n; i++ {
			row.Num, row.Values = i+2, vals(i+n/2)
			d.New(row)
		}
		if c := d.Changes(); len(c.Added) != n/2 || len(c.Removed) != n/2 {
			b.Fatalf("added %d removed %d", len(c.Added), len(c.Removed))
		}
		runtime.KeepAlive(d)
	}
	b.ReportMetric(perRow, "heap-B/old-row")
}
