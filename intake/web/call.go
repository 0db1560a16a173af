package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"intake/parser"
)

// callPage is one data call on deadline day: the chart of where the
// expected agencies stood over time, the totals, and every agency with
// its state (searched, sorted, paged).
type callPage struct {
	page
	Call     callView   // the call's status, as the overview and its JSON give it
	Period   periodView // the period shown
	Periods  []string   // the periods offered
	Chart    chartView
	Totals   []kindCount // records in force per kind (every period)
	Late     int         // agencies whose shown submission came late
	List     listState
	Agencies []agencyRow // this page of the agencies
}

var agencySorts = []string{"agency", "state", "last", "submissions"}

// stateOrder sorts the agencies needing someone first (the states of the
// overview's agencyRow).
var stateOrder = map[string]int{"missing": 0, "deficient": 1, "accepted": 2}

func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	def := s.o.Calls.Get(r.PathValue("call"))
	if def == nil {
		http.Error(w, "unknown data call", http.StatusNotFound)
		return
	}
	v, err := s.callPage(r, def)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "call", v)
}

// chartSVG: GET /calls/{call}/chart.svg?period=, the chart alone.
func (s *Server) chartSVG(w http.ResponseWriter, r *http.Request) {
	def := s.o.Calls.Get(r.PathValue("call"))
	if def == nil {
		http.Error(w, "unknown data call", http.StatusNotFound)
		return
	}
	v, err := s.callPage(r, def)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write([]byte(v.Chart.SVG)) //nolint:errcheck // the client went away
}

func (s *Server) callPage(r *http.Request, def *parser.Definition) (callPage, error) {
	now := s.o.Now()
	c, err := s.callStatus(r.Context(), def, now)
	if err != nil {
		return callPage{}, err
	}
	v := callPage{page: s.newPage(r, def.Title, "overview"), Call: c,
		List: readList(r, "/calls/"+def.ID, agencySorts, "state", false, "period")}
	for _, p := range c.Periods {
		v.Periods = append(v.Periods, p.Period)
	}
	want := r.URL.Query().Get("period")
	for i, p := range c.Periods {
		if i == 0 || p.Period == want {
			v.Period = p
		}
	}
	period := v.Period.Period

	// The chart: from a fortnight before the deadline (a week for a weekly
	// call), or the first submission if earlier, to now, from the
	// attempts Status is given.
	attempts, err := s.o.Store.Attempts(r.Context(), def.ID, period)
	if err != nil {
		return callPage{}, err
	}
	due := v.Period.Due
	lead := 14 * 24 * time.Hour
	if def.Deadline.Weekly != nil {
		lead = 7 * 24 * time.Hour
	}
	start := now.Add(-lead)
	if !due.IsZero() {
		start = due.Add(-lead)
	}
	start = start.UTC()
	for _, a := range attempts {
		if a.ReceivedAt.Before(start) {
			start = a.ReceivedAt
		}
	}
	end := now
	if end.Before(start) {
		end = start
	}
	var expected []string
	for _, a := range v.Period.Agencies {
		if a.Expected {
			expected = append(expected, a.Code)
		}
	}
	loc := time.UTC
	z := cmp.Or(def.Deadline.Zone, "America/New_York") // the definition's default
	if l, err := time.LoadLocation(z); err == nil {
		loc = l
	}
	v.Chart = renderChart("chart-"+def.ID, chartSeries(def, period, expected, attempts, start, end), due, len(expected), loc)

	totals, err := s.o.Store.KindTotals(r.Context(), def.ID)
	if err != nil {
		return callPage{}, err
	}
	v.Totals = kindCounts(def, totals)

	// The agencies: searched by code or name, sorted, paged.
	var rows []agencyRow
	q := strings.ToLower(v.List.Q)
	for _, a := range v.Period.Agencies {
		if a.Late {
			v.Late++
		}
		if q == "" || strings.Contains(strings.ToLower(a.Code), q) || strings.Contains(strings.ToLower(a.Name), q) {
			rows = append(rows, a)
		}
	}
	slices.SortStableFunc(rows, func(a, b agencyRow) int {
		var c int
		switch v.List.Sort {
		case "state":
			c = cmp.Compare(stateOrder[a.State], stateOrder[b.State])
		case "last":
			c = a.LastAt.Compare(b.LastAt)
		case "submissions":
			c = cmp.Compare(a.Submissions, b.Submissions)
		}
		if c == 0 {
			c = cmp.Compare(a.Code, b.Code)
		}
		if v.List.Desc {
			c = -c
		}
		return c
	})
	v.List.Total = len(rows)
	from := min(v.List.Offset(), len(rows))
	v.Agencies = rows[from:min(from+v.List.Per, len(rows))]
	return v, nil
}
