package web

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"

	"intake/parser"
)

// The deadline-day chart: for one call and period, how many of the
// expected agencies had an accepted submission, had sent only deficient
// ones, or had sent nothing, at each moment from before the first
// submission to now, against the deadline. It is SVG written by the
// server (no script), with a text description and the same numbers as a
// table for those who cannot see it.

// chartPoint is where the expected agencies stood from At on.
type chartPoint struct {
	At                           time.Time
	Accepted, Deficient, Missing int
}

// chartSeries is where the expected agencies stood over time: a point at
// start, one at each attempt of an expected agency received up to end that
// changed its state, and one at end. The state is parser.Status's (the one
// status computation) on the attempts received by then: at each attempt
// its agency's Status is worked out again from that agency's attempts
// received so far. Status of one agency depends on that agency's attempts
// alone, so this is Status of the whole call cut off at that instant,
// without working out every other agency again (which would make a call
// of n attempts cost n squared).
func chartSeries(def *parser.Definition, period string, expected []string, attempts []parser.Attempt, start, end time.Time) []chartPoint {
	exp := map[string]bool{}
	for _, a := range expected {
		exp[a] = true
	}
	var mine []parser.Attempt
	for _, a := range attempts {
		if exp[a.Agency] && a.Period == period {
			mine = append(mine, a)
		}
	}
	// Received order; attempts received at the same instant in the order
	// they were decided.
	slices.SortStableFunc(mine, func(a, b parser.Attempt) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	state := map[string]string{}          // agency -> its state; absent: missing
	sent := map[string][]parser.Attempt{} // agency -> its attempts received so far
	cur := chartPoint{Missing: len(exp)}
	count := func(st string, d int) {
		switch st {
		case parser.StateAccepted:
			cur.Accepted += d
		case parser.StateDeficient:
			cur.Deficient += d
		default:
			cur.Missing += d
		}
	}
	// receive applies one attempt and reports whether its agency's state
	// changed.
	receive := func(a parser.Attempt) bool {
		sent[a.Agency] = append(sent[a.Agency], a)
		st := parser.Status(def, period, []string{a.Agency}, sent[a.Agency], a.ReceivedAt).Agencies[0].State
		before, ok := state[a.Agency]
		if !ok {
			before = parser.StateMissing
		}
		if st == before {
			return false
		}
		count(before, -1)
		count(st, +1)
		state[a.Agency] = st
		return true
	}
	i := 0
	for ; i < len(mine) && mine[i].ReceivedAt.Before(start); i++ {
		receive(mine[i])
	}
	cur.At = start
	out := []chartPoint{cur}
	for ; i < len(mine) && !mine[i].ReceivedAt.After(end); i++ {
		if !receive(mine[i]) {
			continue
		}
		cur.At = mine[i].ReceivedAt
		if n := len(out); out[n-1].At.Equal(cur.At) {
			out[n-1] = cur
		} else {
			out = append(out, cur)
		}
	}
	if last := out[len(out)-1]; end.After(last.At) {
		last.At = end
		out = append(out, last)
	}
	return out
}

// chartView is a rendered chart with what it shows in words.
type chartView struct {
	SVG         template.HTML
	Description string
	Points      []chartPoint
}

// Chart geometry (SVG user units; the picture scales to its box).
const (
	chartW, chartH                     = 640, 260
	padLeft, padRight, padTop, padBott = 44, 20, 28, 44
)

// chartLine is one series: its name, colour (at least 3:1 against white,
// WCAG 1.4.11) and dash pattern (so colour is not the only cue, 1.4.1).
type chartLine struct {
	Name, Color, Dash string
	value             func(chartPoint) int
}

var chartLines = []chartLine{
	{"accepted", "#1a7f37", "", func(p chartPoint) int { return p.Accepted }},
	{"deficient", "#b50909", "8 4", func(p chartPoint) int { return p.Deficient }},
	{"missing", "#5b616b", "2 4", func(p chartPoint) int { return p.Missing }},
}

// renderChart draws points (oldest first, at least one) on a time axis
// from points[0].At to the later of the last point and due, with due
// marked, for expected agencies. id makes the SVG's element ids unique on
// its page.
func renderChart(id string, points []chartPoint, due time.Time, expected int, loc *time.Location) chartView {
	start, end := points[0].At, points[len(points)-1].At
	if !due.IsZero() && due.After(end) {
		end = due
	}
	if !end.After(start) {
		end = start.Add(time.Hour)
	}
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		return padLeft + (chartW-padLeft-padRight)*t.Sub(start).Seconds()/span
	}
	top := max(expected, 1)
	y := func(n int) float64 { return padTop + (chartH-padTop-padBott)*(1-float64(n)/float64(top)) }
	day := func(t time.Time) string { return t.In(loc).Format("2 Jan") }

	last := points[len(points)-1]
	desc := fmt.Sprintf("Of %d expected agencies, on %s: %d accepted, %d deficient, %d missing.",
		expected, last.At.In(loc).Format("2 Jan 2006 15:04 MST"), last.Accepted, last.Deficient, last.Missing)
	if !due.IsZero() {
		desc += " Deadline " + due.In(loc).Format("2 Jan 2006 15:04 MST") + "."
		var at *chartPoint
		for i := range points {
			if !points[i].At.After(due) {
				at = &points[i]
			}
		}
		if at != nil && due.Before(last.At) {
			desc += fmt.Sprintf(" At the deadline: %d accepted, %d deficient, %d missing.", at.Accepted, at.Deficient, at.Missing)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">Agencies accepted, deficient and missing over time</title><desc id="%s-d">%s</desc>`,
		id, id, html.EscapeString(desc))
	// Axes and the horizontal grid: 0, half and all expected.
	for _, n := range slices.Compact([]int{0, top / 2, top}) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d6d7d9"/>`, padLeft, chartW-padRight, y(n), y(n))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="15" fill="#1b1b1b">%d</text>`, padLeft-6, y(n)+4, n)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start" font-size="15" fill="#1b1b1b">%s</text>`, padLeft, chartH-padBott+18, day(start))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="15" fill="#1b1b1b">%s</text>`, chartW-padRight, chartH-padBott+18, day(end))
	if !due.IsZero() {
		dx := x(due)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#112e51" stroke-width="2"/>`, dx, dx, padTop-8, chartH-padBott)
		anchor := "middle"
		if dx > chartW-padRight-60 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="15" font-weight="bold" fill="#112e51">Deadline %s</text>`,
			dx, padTop-12, anchor, day(due))
	}
	for _, l := range chartLines {
		var pts []string
		for i, p := range points {
			if i > 0 { // a step: the previous value holds until this point
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(l.value(points[i-1]))))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(l.value(p))))
		}
		dash := ""
		if l.Dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.Dash)
		}
		fmt.Fprintf(&b, `<polyline class="series-%s" points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`,
			l.Name, strings.Join(pts, " "), l.Color, dash)
	}
	// The legend, under the axis.
	for i, l := range chartLines {
		lx := padLeft + i*170
		dash := ""
		if l.Dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.Dash)
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`, lx, lx+28, chartH-10, chartH-10, l.Color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" fill="#1b1b1b">%s (%d)</text>`, lx+34, chartH-6, l.Name, l.value(last))
	}
	b.WriteString(`</svg>`)
	return chartView{SVG: template.HTML(b.String()), Description: desc, Points: points}
}
