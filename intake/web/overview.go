package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"intake/parser"
)

// overviewView is the home page: every call and where each agency stands.
type overviewView struct {
	page
	Calls []callView
}

// callView is one data call's status: for a single deadline one period
// (""), for a weekly call the current period and the most recent one whose
// deadline has passed. It is also the JSON of /api/calls/{call}/status.
type callView struct {
	Call    string       `json:"call"`
	Title   string       `json:"title"`
	Source  string       `json:"source,omitempty"`
	PII     bool         `json:"pii"`
	Weekly  bool         `json:"weekly"`
	Periods []periodView `json:"periods"`
}

// periodView is where every agency stands for one period of a call.
type periodView struct {
	Period   string      `json:"period,omitempty"` // "" for a single-deadline call
	Due      time.Time   `json:"due"`              // zero when no deadline applies
	PastDue  bool        `json:"past_due"`
	Expected int         `json:"expected"` // agencies expected to answer
	Accepted int         `json:"accepted"` // of those, with an accepted submission
	Agencies []agencyRow `json:"agencies"` // expected agencies and any other that sent something
	Missing  []agencyRef `json:"missing"`  // expected agencies without an accepted submission
}

// agencyRow is one agency's latest state for a period.
type agencyRow struct {
	Code        string    `json:"code"`
	Name        string    `json:"name,omitempty"`
	Expected    bool      `json:"expected"`
	State       string    `json:"state"`             // "accepted", "deficient" or "missing"
	Receipt     string    `json:"receipt,omitempty"` // the current version's, else the latest submission's
	Version     int       `json:"version"`           // 0 when none is accepted
	Late        bool      `json:"late"`              // that submission came after the deadline
	Overdue     bool      `json:"overdue"`           // nothing accepted and the deadline has passed
	LastAt      time.Time `json:"last_at,omitzero"`  // latest submission of any state
	Submissions int       `json:"submissions"`       // submissions of any state
}

// agencyRef names an agency.
type agencyRef struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// Agency states shown on the overview.
const (
	stateAccepted  = "accepted"
	stateDeficient = "deficient"
	stateMissing   = "missing"
)

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	now := s.o.Now()
	v := overviewView{page: s.newPage(r, "Data calls", "overview")}
	v.Now = now
	for _, def := range s.o.Calls.All() {
		c, err := s.callStatus(r.Context(), def, now)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Calls = append(v.Calls, c)
	}
	s.render(w, r, "overview", v)
}

// periods returns the periods the overview shows for def at now, with
// their deadlines: the single deadline; or, for a weekly call, the period
// now falls in (Due(now)) and the latest period already due, newest first.
func periods(def *parser.Definition, now time.Time) []periodView {
	due, period, ok := def.Due(now)
	if def.Deadline.Weekly == nil {
		return []periodView{{Due: due}} // ok is false only for an unloaded definition: no deadline shown
	}
	var out []periodView
	if ok {
		out = append(out, periodView{Period: period, Due: due})
	}
	// The latest due instant at or before now: its period is the most
	// recent one whose deadline has passed.
	if past := def.Upcoming(now.AddDate(-1, 0, 0), now); len(past) > 0 {
		last := past[len(past)-1]
		if d, p, ok := def.Due(last.Add(-time.Second)); ok && p != period {
			out = append(out, periodView{Period: p, Due: d})
		}
	}
	return out
}

// expected returns the agency codes def expects answers from, sorted.
func (s *Server) expected(def *parser.Definition) []string {
	var codes []string
	if len(def.ExpectedAgencies) > 0 {
		codes = append(codes, def.ExpectedAgencies...)
	} else {
		for code := range s.o.Agencies {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

// callStatus builds the status of one call at now.
func (s *Server) callStatus(ctx context.Context, def *parser.Definition, now time.Time) (callView, error) {
	c := callView{Call: def.ID, Title: def.Title, Source: def.Source, PII: def.PII, Weekly: def.Deadline.Weekly != nil}
	expected := s.expected(def)
	for _, p := range periods(def, now) {
		states, err := s.o.Store.CallStatus(ctx, def.ID, p.Period)
		if err != nil {
			return callView{}, err
		}
		p.PastDue = !p.Due.IsZero() && now.After(p.Due)
		p.Expected = len(expected)
		byCode := map[string]int{} // agency -> index in p.Agencies
		for _, code := range expected {
			byCode[code] = len(p.Agencies)
			p.Agencies = append(p.Agencies, agencyRow{Code: code, Name: s.o.Agencies[code], Expected: true, State: stateMissing})
		}
		for _, st := range states {
			if st.Period != p.Period {
				continue // a single-deadline call lists every period; only "" is its own
			}
			i, ok := byCode[st.Agency]
			if !ok {
				i = len(p.Agencies)
				byCode[st.Agency] = i
				p.Agencies = append(p.Agencies, agencyRow{Code: st.Agency, Name: s.o.Agencies[st.Agency]})
			}
			a := &p.Agencies[i]
			a.Receipt, a.Version, a.Late, a.LastAt, a.Submissions = st.Receipt, st.Version, st.Late, st.LastAt, st.Submissions
			a.State = stateDeficient
			if st.Accepted {
				a.State = stateAccepted
				if a.Expected {
					p.Accepted++
				}
			}
		}
		for i := range p.Agencies {
			a := &p.Agencies[i]
			if a.Expected && a.State != stateAccepted {
				a.Overdue = p.PastDue
				p.Missing = append(p.Missing, agencyRef{Code: a.Code, Name: a.Name})
			}
		}
		c.Periods = append(c.Periods, p)
	}
	return c, nil
}
