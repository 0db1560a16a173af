package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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

// periodView is where every agency stands for one period of a call: a
// parser.Status, for display. Times are whole seconds (RFC 3339 in JSON).
type periodView struct {
	Period          string      `json:"period,omitempty"` // "" for a single-deadline call
	Due             time.Time   `json:"due,omitzero"`     // zero when no deadline applies
	PastDue         bool        `json:"past_due"`
	Expected        int         `json:"expected"`         // agencies expected to answer
	Accepted        int         `json:"accepted"`         // of those, with an accepted version
	Deficient       int         `json:"deficient"`        // of those, with only deficient submissions
	MissingCount    int         `json:"missing_count"`    // of those, with nothing sent
	Late            int         `json:"late"`             // of those accepted, late
	DeficientLatest int         `json:"deficient_latest"` // of those accepted, whose newest submission is deficient
	Agencies        []agencyRow `json:"agencies"`         // expected agencies and any other that sent something
	Missing         []agencyRef `json:"missing"`          // expected agencies that sent nothing
	Outstanding     []agencyRef `json:"outstanding"`      // expected agencies without an accepted version (missing or deficient)
}

// agencyRow is one agency's standing for a period.
type agencyRow struct {
	Code            string     `json:"code"`
	Name            string     `json:"name,omitempty"`
	Expected        bool       `json:"expected"`
	State           string     `json:"state"`             // "accepted", "deficient" or "missing"
	Receipt         string     `json:"receipt,omitempty"` // the version in force, else the latest submission's
	Version         int        `json:"version"`           // 0 when none is accepted
	Late            bool       `json:"late"`              // that submission came after the deadline
	Overdue         bool       `json:"overdue"`           // expected, nothing accepted and the deadline has passed
	DeficientLatest bool       `json:"deficient_latest"`  // a version is in force, the newest submission is deficient
	Latest          string     `json:"latest,omitempty"`  // receipt of the newest submission of any state
	LastAt          time.Time  `json:"last_at,omitzero"`  // latest submission of any state
	Submissions     int        `json:"submissions"`       // submissions of any state
	Kinds           []kindView `json:"kinds"`             // which rows of each kind are in force
}

// Partial names the kinds whose rows in force come from an earlier
// version than the agency's newest accepted one (that version was
// superseded only in part), e.g. "retention-request of v1 in force"; ""
// when none.
func (a agencyRow) Partial() string {
	var parts []string
	for _, k := range a.Kinds {
		if k.State == parser.StateAccepted && k.Receipt != a.Receipt {
			parts = append(parts, fmt.Sprintf("%s of v%d", k.Kind, k.Version))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " in force"
}

// kindView is which version's rows of one kind are in force.
type kindView struct {
	Kind            string `json:"kind"`
	Optional        bool   `json:"optional"`
	State           string `json:"state"` // "accepted" or "missing"
	Receipt         string `json:"receipt,omitempty"`
	Version         int    `json:"version"`
	Late            bool   `json:"late"`
	DeficientLatest bool   `json:"deficient_latest"`
}

// agencyRef names an agency.
type agencyRef struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

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

// callStatus builds the status of one call at now: parser.Status for each
// period parser.Definition.StatusPeriods names.
func (s *Server) callStatus(ctx context.Context, def *parser.Definition, now time.Time) (callView, error) {
	c := callView{Call: def.ID, Title: def.Title, Source: def.Source, PII: def.PII, Weekly: def.Deadline.Weekly != nil, Periods: []periodView{}}
	codes := make([]string, 0, len(s.o.Agencies))
	for code := range s.o.Agencies {
		codes = append(codes, code)
	}
	expected := def.Expected(codes)
	for _, period := range def.StatusPeriods(now) {
		attempts, err := s.o.Store.Attempts(ctx, def.ID, period)
		if err != nil {
			return callView{}, err
		}
		c.Periods = append(c.Periods, s.periodView(parser.Status(def, period, expected, attempts, now)))
	}
	return c, nil
}

// periodView turns a status into its view, with agency names.
func (s *Server) periodView(ps parser.PeriodStatus) periodView {
	p := periodView{Period: ps.Period, Due: ps.Due.Truncate(time.Second), PastDue: ps.PastDue,
		Expected: ps.Expected, Accepted: ps.Accepted, Deficient: ps.Deficient, MissingCount: ps.Missing,
		Late: ps.Late, DeficientLatest: ps.DeficientLatest,
		Agencies: []agencyRow{}, Missing: []agencyRef{}, Outstanding: []agencyRef{}}
	for _, a := range ps.Agencies {
		row := agencyRow{Code: a.Agency, Name: s.o.Agencies[a.Agency], Expected: a.Expected, State: a.State,
			Receipt: a.Receipt, Version: a.Version, Late: a.Late, Overdue: a.Overdue, DeficientLatest: a.DeficientLatest,
			Latest: a.Latest, LastAt: a.LastAt.Truncate(time.Second), Submissions: a.Submissions, Kinds: []kindView{}}
		for _, k := range a.Kinds {
			row.Kinds = append(row.Kinds, kindView{Kind: k.Kind, Optional: k.Optional, State: k.State, Receipt: k.Receipt,
				Version: k.Version, Late: k.Late, DeficientLatest: k.DeficientLatest})
		}
		p.Agencies = append(p.Agencies, row)
		ref := agencyRef{Code: row.Code, Name: row.Name}
		if a.Outstanding() {
			p.Outstanding = append(p.Outstanding, ref)
		}
		if a.Expected && a.State == parser.StateMissing {
			p.Missing = append(p.Missing, ref)
		}
	}
	return p
}
