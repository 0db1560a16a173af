package web

import (
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"

	"intake/store"
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

// chartSeries replays subs (received in any order) over the expected
// agencies: a point at start, one at each submission of an expected
// agency up to end, and one at end. An agency counts as accepted from its
// first accepted submission on, as deficient while it has sent only
// deficient ones, as missing before it sent anything.
func chartSeries(expected []string, subs []store.SubmissionSummary, start, end time.Time) []chartPoint {
	state := map[string]int{} // 0 missing, 1 deficient, 2 accepted
	exp := map[string]bool{}
	for _, a := range expected {
		exp[a] = true
	}
	subs = slices.Clone(subs)
	slices.SortStableFunc(subs, func(a, b store.SubmissionSummary) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	point := func(at time.Time) chartPoint {
		p := chartPoint{At: at}
		for _, a := range expected {
			switch state[a] {
			case 2:
				p.Accepted++
			case 1:
				p.Deficient++
			default:
				p.Missing++
			}
		}
		return p
	}
	var out []chartPoint
	i := 0
	for ; i < len(subs) && subs[i].ReceivedAt.Before(start); i++ {
		apply(state, exp, subs[i])
	}
	out = append(out, point(start))
	for ; i < len(subs) && !subs[i].ReceivedAt.After(end); i++ {
		if !exp[subs[i].Agency] {
			continue
		}
		before := state[subs[i].Agency]
		apply(state, exp, subs[i])
		if state[subs[i].Agency] == before {
			continue
		}
		p := point(subs[i].ReceivedAt)
		if n := len(out); out[n-1].At.Equal(p.At) {
			out[n-1] = p
		} else {
			out = append(out, p)
		}
	}
	if last := out[len(out)-1]; end.After(last.At) {
		last.At = end
		out = append(out, last)
	}
	return out
}

func apply(state map[string]int, exp map[string]bool, x store.SubmissionSummary) {
	if !exp[x.Agency] {
		return
	}
	if x.State != "deficient" {
		state[x.Agency] = 2
	} else if state[x.Agency] == 0 {
		state[x.Agency] = 1
	}
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
