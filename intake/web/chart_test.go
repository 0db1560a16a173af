package web

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"intake/parser"
)

// TestChartSeries_isStatusOverTime: every point of the chart is what
// parser.Status says of the whole call with the attempts received by then
// (issue 17: the chart replayed submissions itself, a fourth computation
// of who is missing). 300 agencies, 1,500 attempts of both kinds, some
// received at the same instant, some before the chart starts and some
// after it ends.
func TestChartSeries_isStatusOverTime(t *testing.T) {
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	def := reg.Get("ses-designation-review")
	rng := rand.New(rand.NewPCG(17, 17))
	var expected []string
	for i := range 300 {
		expected = append(expected, fmt.Sprintf("A%03d", i))
	}
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	kinds := [][]string{{"position-report"}, {"retention-request"}, {"position-report", "retention-request"}}
	var attempts []parser.Attempt
	for i := range 1500 {
		ag := expected[rng.IntN(250)] // 50 agencies never send
		if i%50 == 0 {
			ag = "ZZ" // an agency not expected: never counted
		}
		attempts = append(attempts, parser.Attempt{Seq: int64(i + 1), Receipt: fmt.Sprintf("SES-%d", i+1), Agency: ag,
			Accepted: rng.IntN(3) > 0, ReceivedAt: base.Add(time.Duration(rng.IntN(30*24)) * time.Hour),
			Kinds: kinds[rng.IntN(len(kinds))]})
	}
	start, end := base.Add(3*24*time.Hour), base.Add(27*24*time.Hour)
	points := chartSeries(def, "", expected, attempts, start, end)

	// Status of the whole call, attempts cut off at t.
	at := func(t time.Time) chartPoint {
		var cut []parser.Attempt
		for _, a := range attempts {
			if !a.ReceivedAt.After(t) {
				cut = append(cut, a)
			}
		}
		ps := parser.Status(def, "", expected, cut, t)
		return chartPoint{At: t, Accepted: ps.Accepted, Deficient: ps.Deficient, Missing: ps.Missing}
	}
	if len(points) < 100 {
		t.Fatalf("%d points; the states changed far more often", len(points))
	}
	if !points[0].At.Equal(start) || !points[len(points)-1].At.Equal(end) {
		t.Errorf("points from %v to %v, want %v to %v", points[0].At, points[len(points)-1].At, start, end)
	}
	for i, p := range points {
		if want := at(p.At); p != want {
			t.Fatalf("point %d: %+v, Status says %+v", i, p, want)
		}
		if i > 0 && !p.At.After(points[i-1].At) {
			t.Fatalf("point %d at %v does not follow %v", i, p.At, points[i-1].At)
		}
		// Between two points nothing changes: just before the next one
		// Status still says what this one does.
		if i+1 < len(points) {
			before := at(points[i+1].At.Add(-time.Nanosecond))
			before.At = p.At
			if before != p {
				t.Fatalf("between points %d and %d Status says %+v, the chart %+v", i, i+1, before, p)
			}
		}
	}
}

// BenchmarkChartSeries: the chart of a call with 600 expected agencies and
// five attempts each (as parser's BenchmarkStatus), over a month.
func BenchmarkChartSeries(b *testing.B) {
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		b.Fatal(err)
	}
	def := reg.Get("ses-designation-review")
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var expected []string
	var attempts []parser.Attempt
	for i := range 600 {
		code := fmt.Sprintf("A%03d", i)
		expected = append(expected, code)
		for j := range 5 {
			n := len(attempts) + 1
			attempts = append(attempts, parser.Attempt{Seq: int64(n), Receipt: fmt.Sprint(n), Agency: code, Accepted: j%2 == 1,
				ReceivedAt: base.Add(time.Duration(n) * 13 * time.Minute), Kinds: []string{"position-report", "retention-request"}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		chartSeries(def, "", expected, attempts, base, base.Add(30*24*time.Hour))
	}
}
