package parser_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"intake/parser"
)

func builtinCall(t *testing.T, id string) *parser.Definition {
	t.Helper()
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	def := reg.Get(id)
	if def == nil {
		t.Fatalf("no built-in call %s", id)
	}
	return def
}

// The four ways an agency can stand, from one set of attempts: HS has a
// version in force and a deficient attempt after it, DJ replaced only its
// position report (its retention requests stay in force), TR sent only a
// deficient workbook, ED sent nothing; XX sent something unasked.
func TestStatus(t *testing.T) {
	def := builtinCall(t, "ses-designation-review")
	at := func(d int) time.Time { return time.Date(2025, 3, d, 15, 0, 0, 0, time.UTC) }
	both := []string{"position-report", "retention-request"}
	attempts := []parser.Attempt{
		{Seq: 1, Receipt: "R1", Agency: "HS", Accepted: true, Version: 1, ReceivedAt: at(10), Kinds: both},
		{Seq: 2, Receipt: "R2", Agency: "DJ", Accepted: true, Version: 1, ReceivedAt: at(11), Kinds: both},
		{Seq: 3, Receipt: "R3", Agency: "TR", ReceivedAt: at(12), Kinds: []string{"position-report"}},
		{Seq: 4, Receipt: "R4", Agency: "DJ", Accepted: true, Version: 2, Late: true, ReceivedAt: at(26), Kinds: []string{"position-report"}},
		{Seq: 5, Receipt: "R5", Agency: "HS", ReceivedAt: at(26), Kinds: []string{"position-report"}},
		{Seq: 6, Receipt: "R6", Agency: "XX", Accepted: true, Version: 1, ReceivedAt: at(13), Kinds: both},
		{Seq: 7, Receipt: "W1", Agency: "ED", Period: "2025-W10", Accepted: true, Version: 1, ReceivedAt: at(13)},
	}
	now := at(27)
	ps := parser.Status(def, "", []string{"TR", "HS", "DJ", "ED", "HS"}, attempts, now)
	if !ps.PastDue || ps.Due.IsZero() {
		t.Errorf("due %v past %v at %v", ps.Due, ps.PastDue, now)
	}
	if ps.Expected != 4 || ps.Accepted != 2 || ps.Deficient != 1 || ps.Missing != 1 || ps.Late != 1 || ps.DeficientLatest != 1 {
		t.Errorf("counts %+v", ps)
	}
	var codes []string
	got := map[string]parser.AgencyStatus{}
	for _, a := range ps.Agencies {
		codes = append(codes, a.Agency)
		got[a.Agency] = a
	}
	if want := []string{"DJ", "ED", "HS", "TR", "XX"}; !slices.Equal(codes, want) {
		t.Errorf("agencies %v, want %v", codes, want)
	}
	if a := got["HS"]; a.State != parser.StateAccepted || a.Receipt != "R1" || !a.DeficientLatest || a.Latest != "R5" || a.Submissions != 2 || a.Outstanding() {
		t.Errorf("HS %+v", a)
	}
	dj := got["DJ"]
	if dj.State != parser.StateAccepted || dj.Receipt != "R4" || dj.Version != 2 || !dj.Late || dj.DeficientLatest {
		t.Errorf("DJ %+v", dj)
	}
	if s := fmt.Sprint(dj.Kinds); s != "[{position-report false accepted R4 2 true false} {retention-request true accepted R2 1 false false}]" {
		t.Errorf("DJ kinds %s", s)
	}
	if len(dj.Attempts) != 2 || dj.Attempts[0].State != parser.AttemptCurrent || dj.Attempts[1].State != parser.AttemptSupersededPartly ||
		!slices.Equal(dj.Attempts[1].InForce, []string{"retention-request"}) {
		t.Errorf("DJ attempts %+v", dj.Attempts)
	}
	if a := got["TR"]; a.State != parser.StateDeficient || a.Receipt != "R3" || !a.Overdue || !a.Outstanding() || !a.Kinds[0].DeficientLatest || a.Attempts[0].State != parser.AttemptDeficient {
		t.Errorf("TR %+v", a)
	}
	// ED's attempt is of another period: for this one, ED sent nothing.
	if a := got["ED"]; a.State != parser.StateMissing || a.Receipt != "" || !a.Overdue || a.Submissions != 0 {
		t.Errorf("ED %+v", a)
	}
	if a := got["XX"]; a.Expected || a.State != parser.StateAccepted || a.Outstanding() {
		t.Errorf("XX %+v", a)
	}

	// Before the deadline nothing is overdue.
	early := parser.Status(def, "", []string{"ED"}, nil, at(20))
	if early.PastDue || early.Agencies[0].Overdue || early.Missing != 1 {
		t.Errorf("before the deadline: %+v", early)
	}
}

// A version that replaces every kind supersedes the earlier one wholly.
func TestStatus_wholeSupersede(t *testing.T) {
	def := builtinCall(t, "ses-designation-review")
	both := []string{"position-report", "retention-request"}
	ps := parser.Status(def, "", []string{"HS"}, []parser.Attempt{
		{Seq: 9, Receipt: "B", Agency: "HS", Accepted: true, Version: 2, Kinds: both},
		{Seq: 3, Receipt: "A", Agency: "HS", Accepted: true, Version: 1, Kinds: both},
	}, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	a := ps.Agencies[0]
	if a.Receipt != "B" || a.Attempts[0].Receipt != "B" || a.Attempts[1].State != parser.AttemptSuperseded || len(a.Attempts[1].InForce) != 0 {
		t.Errorf("%+v", a)
	}
}

// A weekly call's status is per period, each with its own deadline.
func TestStatusPeriods_weekly(t *testing.T) {
	def := builtinCall(t, "deferred-resignation-weekly")
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2025, 3, 26, 12, 0, 0, 0, ny) // a Wednesday
	ps := def.StatusPeriods(now)
	if len(ps) != 2 || ps[1] >= ps[0] {
		t.Fatalf("periods %v", ps)
	}
	cur := parser.Status(def, ps[0], []string{"HS"}, nil, now)
	last := parser.Status(def, ps[1], []string{"HS"}, nil, now)
	if cur.PastDue || !last.PastDue || !last.Due.Before(cur.Due) {
		t.Errorf("current %v %v, last %v %v", cur.Due, cur.PastDue, last.Due, last.PastDue)
	}
	if _, ok := def.PeriodDue("1999-W01"); ok {
		t.Error("a period before the series has a deadline")
	}
	if got := builtinCall(t, "ses-designation-review").StatusPeriods(now); !slices.Equal(got, []string{""}) {
		t.Errorf("single deadline: %q", got)
	}
}

func TestExpected(t *testing.T) {
	def := builtinCall(t, "ses-designation-review")
	if got := def.Expected([]string{"TR", "HS", "TR"}); !slices.Equal(got, []string{"HS", "TR"}) {
		t.Errorf("Expected = %v", got)
	}
	d := *def
	d.ExpectedAgencies = []string{"ED"}
	if got := d.Expected([]string{"TR"}); !slices.Equal(got, []string{"ED"}) {
		t.Errorf("Expected with a list = %v", got)
	}
}

func TestAgencyMatches(t *testing.T) {
	const name = "Department of Homeland Security"
	domains := []string{"@dhs.gov"}
	for _, q := range []string{"", "HS", "hs", "homeland", "DHS", "dhs.gov", " Security "} {
		if !parser.AgencyMatches(q, "HS", name, domains) {
			t.Errorf("%q does not match", q)
		}
	}
	for _, q := range []string{"treasury", "DOT", "dh s"} {
		if parser.AgencyMatches(q, "HS", name, domains) {
			t.Errorf("%q matches", q)
		}
	}
	if !parser.AgencyMatches("dt", "TR", "Department of the Treasury", nil) {
		t.Error("initials without 'of the'")
	}
}

// BenchmarkStatus: deadline day with every agency of the reference data
// (about 600) expected, five attempts each.
func BenchmarkStatus(b *testing.B) {
	reg, err := parser.BuiltinRegistry()
	if err != nil {
		b.Fatal(err)
	}
	def := reg.Get("ses-designation-review")
	var expected []string
	var attempts []parser.Attempt
	for i := range 600 {
		code := fmt.Sprintf("A%03d", i)
		expected = append(expected, code)
		for j := range 5 {
			attempts = append(attempts, parser.Attempt{Seq: int64(i*5 + j), Receipt: fmt.Sprintf("R%d-%d", i, j), Agency: code,
				Accepted: j%2 == 0, Version: j/2 + 1, Kinds: []string{"position-report", "retention-request"}})
		}
	}
	now := time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if ps := parser.Status(def, "", expected, attempts, now); ps.Expected != 600 {
			b.Fatal(ps.Expected)
		}
	}
}
