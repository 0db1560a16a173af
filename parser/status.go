package parser

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Where each agency stands on a data call is worked out here and only
// here: `intake status`, the dashboard's overview, the JSON API and the
// reminders all call Status, so they cannot disagree on who is missing.

// Attempt is one stored submission of a call, as Status sees it: every
// submission counts, deficient ones too.
type Attempt struct {
	Seq        int64     // the order attempts were decided in (the store's id): later is greater
	Receipt    string    // e.g. SES-2025-000042
	Agency     string    // agency code
	Period     string    // reporting period ("" for a single-deadline call)
	Sender     string    // sender address
	Accepted   bool      // it had no error findings when received (a version); false: deficient
	Version    int       // its version number when accepted, else 0
	Late       bool      // it arrived after its deadline
	ReceivedAt time.Time // when OPM's mail server received it
	// Kinds are the kinds it speaks for (Submission.Kinds): an accepted
	// attempt replaces, of the rows in force, only these kinds.
	Kinds []string
}

// Agency states: what an agency's answer to a call (for one period) is.
const (
	StateAccepted  = "accepted"  // an accepted version is in force
	StateDeficient = "deficient" // it sent something, none of it accepted
	StateMissing   = "missing"   // it sent nothing
)

// Attempt states: what became of one submission.
const (
	AttemptCurrent          = "current"            // the newest accepted version
	AttemptSupersededPartly = "superseded in part" // replaced by a newer version, some of its kinds still in force
	AttemptSuperseded       = "superseded"         // replaced: none of its rows in force
	AttemptDeficient        = "deficient"          // not accepted
)

// PeriodStatus is where every agency stands on a call for one period, at
// one instant.
type PeriodStatus struct {
	Call    string    // the call's id
	Period  string    // "" for a single-deadline call
	Due     time.Time // the period's deadline; zero when none applies
	PastDue bool      // the deadline has passed
	// Counts over the expected agencies: Accepted + Deficient + Missing
	// == Expected.
	Expected, Accepted, Deficient, Missing int
	Late                                   int // expected agencies whose version in force came late
	DeficientLatest                        int // expected agencies with a version in force whose newest attempt is deficient
	// Agencies are the expected agencies (by code), then any other agency
	// that sent something (by code).
	Agencies []AgencyStatus
}

// AgencyStatus is where one agency stands.
type AgencyStatus struct {
	Agency   string // agency code
	Expected bool   // the call expects an answer from it
	State    string // StateAccepted, StateDeficient or StateMissing
	// Receipt and Version are those of the newest accepted version, else
	// of the newest attempt; "" and 0 when the agency sent nothing.
	Receipt string
	Version int
	Late    bool // that submission came after the deadline
	// Overdue: expected, no accepted version, and the deadline has passed.
	Overdue bool
	// DeficientLatest: a version is in force but the agency's newest
	// attempt was deficient (it tried to correct something and failed).
	DeficientLatest bool
	Latest          string    // receipt of the newest attempt of any state
	LastAt          time.Time // when the newest attempt arrived
	Submissions     int       // attempts of any state
	Kinds           []KindStatus
	Attempts        []AttemptStatus // every attempt, newest first
}

// Outstanding reports whether the agency still owes an accepted answer:
// expected and not accepted (missing or deficient). Reminders go to these.
func (a AgencyStatus) Outstanding() bool { return a.Expected && a.State != StateAccepted }

// KindStatus is which rows of one kind are in force for an agency.
type KindStatus struct {
	Kind     string // kind id
	Optional bool   // the call lets a submission leave it out
	// State is StateAccepted (rows of an accepted version are in force)
	// or StateMissing (none).
	State   string
	Receipt string // the version whose rows of this kind are in force
	Version int
	Late    bool // that version came after the deadline
	// DeficientLatest: the newest attempt that sent this kind is deficient
	// and newer than the version in force.
	DeficientLatest bool
}

// AttemptStatus is what became of one attempt.
type AttemptStatus struct {
	Receipt    string
	Version    int
	State      string   // AttemptCurrent, AttemptSupersededPartly, AttemptSuperseded or AttemptDeficient
	InForce    []string // the kinds whose rows in force are its own
	Late       bool
	ReceivedAt time.Time
}

// Expected returns the agency codes def expects answers from, sorted:
// its ExpectedAgencies, or when it names none, every configured agency.
func (d *Definition) Expected(configured []string) []string {
	codes := slices.Clone(d.ExpectedAgencies)
	if len(codes) == 0 {
		codes = slices.Clone(configured)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

// PeriodDue returns the deadline of a period: for a single-deadline call
// the end of its date (any period); for a weekly call the end of the
// period's due day. ok is false for a period that is not one of the call's
// (or a definition not loaded by ParseDefinition).
func (d *Definition) PeriodDue(period string) (time.Time, bool) {
	if d.c == nil {
		return time.Time{}, false
	}
	if d.c.weekly == nil {
		return endOfDay(d.c.date), true
	}
	day, ok := d.c.periodDue(period)
	if !ok || day.Before(d.c.weekly.start) || day.After(d.c.weekly.until) {
		return time.Time{}, false
	}
	return endOfDay(day), true
}

// StatusPeriods returns the periods a status at now shows, newest first:
// "" for a single-deadline call; for a weekly call the period now falls in
// (while the series runs) and the most recent one whose deadline has
// passed.
func (d *Definition) StatusPeriods(now time.Time) []string {
	if d.c == nil || d.c.weekly == nil {
		return []string{""}
	}
	var out []string
	_, current, ok := d.Due(now)
	if ok {
		out = append(out, current)
	}
	if past := d.Upcoming(now.AddDate(-1, 0, 0), now); len(past) > 0 {
		if _, p, ok := d.Due(past[len(past)-1].Add(-time.Second)); ok && p != current {
			out = append(out, p)
		}
	}
	return out
}

// Status works out where every agency stands on def for one period at
// now, from the agencies expected to answer (Definition.Expected) and the
// call's attempts. Attempts of another period are left out; an agency
// that sent something but is not expected is listed (Expected false) and
// not counted. It is pure: the same input gives the same answer.
//
// An agency is accepted when it has an accepted version, whatever came
// after (a later deficient attempt leaves the version in force and sets
// DeficientLatest); deficient when all it sent was deficient; missing when
// it sent nothing. Of each kind, the rows in force are those of the
// newest accepted attempt that sent that kind, so a version that sent only
// a new position report leaves the earlier retention requests in force,
// and the earlier version is superseded only in part.
func Status(def *Definition, period string, expected []string, attempts []Attempt, now time.Time) PeriodStatus {
	ps := PeriodStatus{Call: def.ID, Period: period}
	if due, ok := def.PeriodDue(period); ok {
		ps.Due = due
		ps.PastDue = now.After(due)
	}
	byAgency := map[string][]Attempt{}
	for _, a := range attempts {
		if a.Period == period {
			byAgency[a.Agency] = append(byAgency[a.Agency], a)
		}
	}
	seen := map[string]bool{}
	for _, code := range expected {
		if seen[code] {
			continue
		}
		seen[code] = true
		ps.Agencies = append(ps.Agencies, agencyStatus(def, code, true, byAgency[code], ps.PastDue))
	}
	slices.SortFunc(ps.Agencies, func(a, b AgencyStatus) int { return strings.Compare(a.Agency, b.Agency) })
	var others []string
	for code := range byAgency {
		if !seen[code] {
			others = append(others, code)
		}
	}
	slices.Sort(others)
	for _, code := range others {
		ps.Agencies = append(ps.Agencies, agencyStatus(def, code, false, byAgency[code], ps.PastDue))
	}
	for _, a := range ps.Agencies {
		if !a.Expected {
			continue
		}
		ps.Expected++
		switch a.State {
		case StateAccepted:
			ps.Accepted++
			if a.Late {
				ps.Late++
			}
			if a.DeficientLatest {
				ps.DeficientLatest++
			}
		case StateDeficient:
			ps.Deficient++
		default:
			ps.Missing++
		}
	}
	return ps
}

// agencyStatus is Status for one agency and its attempts (any order).
func agencyStatus(def *Definition, code string, expected bool, attempts []Attempt, pastDue bool) AgencyStatus {
	as := AgencyStatus{Agency: code, Expected: expected, State: StateMissing, Submissions: len(attempts)}
	// In the order they were decided (Seq), which is the order versions
	// were numbered and replaced in; ReceivedAt may differ (a mail held up
	// on the way, or retried).
	attempts = slices.Clone(attempts)
	slices.SortFunc(attempts, func(a, b Attempt) int { return cmp.Compare(a.Seq, b.Seq) })
	inForce := map[string]int{}  // kind -> index in attempts of the version in force
	lastSent := map[string]int{} // kind -> index of the newest attempt that sent it
	newestAccepted, newest := -1, -1
	for i, a := range attempts {
		newest = i
		for _, k := range a.Kinds {
			lastSent[k] = i
			if a.Accepted {
				inForce[k] = i
			}
		}
		if a.Accepted {
			newestAccepted = i
		}
	}
	if newest >= 0 {
		last := attempts[newest]
		as.Latest, as.LastAt = last.Receipt, last.ReceivedAt
		as.State, as.Receipt, as.Version, as.Late = StateDeficient, last.Receipt, last.Version, last.Late
	}
	if newestAccepted >= 0 {
		cur := attempts[newestAccepted]
		as.State, as.Receipt, as.Version, as.Late = StateAccepted, cur.Receipt, cur.Version, cur.Late
		as.DeficientLatest = newest > newestAccepted && !attempts[newest].Accepted
	}
	as.Overdue = expected && as.State != StateAccepted && pastDue

	kinds := make([]string, 0, len(def.Kinds))
	optional := map[string]bool{}
	for _, k := range def.Kinds {
		kinds = append(kinds, k.ID)
		optional[k.ID] = k.Optional
	}
	for k := range inForce { // a kind the definition no longer lists still has rows in force
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds[len(def.Kinds):])
	for _, k := range kinds {
		ks := KindStatus{Kind: k, Optional: optional[k], State: StateMissing}
		if i, ok := inForce[k]; ok {
			a := attempts[i]
			ks.State, ks.Receipt, ks.Version, ks.Late = StateAccepted, a.Receipt, a.Version, a.Late
			ks.DeficientLatest = lastSent[k] > i
		} else if _, ok := lastSent[k]; ok {
			ks.DeficientLatest = true // only deficient attempts sent it
		}
		as.Kinds = append(as.Kinds, ks)
	}

	for i := len(attempts) - 1; i >= 0; i-- {
		a := attempts[i]
		st := AttemptStatus{Receipt: a.Receipt, Version: a.Version, Late: a.Late, ReceivedAt: a.ReceivedAt}
		for _, k := range kinds {
			if j, ok := inForce[k]; ok && j == i {
				st.InForce = append(st.InForce, k)
			}
		}
		switch {
		case !a.Accepted:
			st.State = AttemptDeficient
		case i == newestAccepted:
			st.State = AttemptCurrent
		case len(st.InForce) > 0:
			st.State = AttemptSupersededPartly
		default:
			st.State = AttemptSuperseded
		}
		as.Attempts = append(as.Attempts, st)
	}
	return as
}
