package parser

import (
	"strings"
	"testing"
)

// A row rule's outcome is remembered by the values of the columns it
// reads only when the row is read through those columns alone.
func TestRuleMemo_onlyWhereSafe(t *testing.T) {
	defs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		for _, ck := range d.c.kinds {
			for _, cr := range ck.rules {
				if !cr.memo {
					t.Errorf("%s/%s rule %s: not remembered, though it reads columns only", d.ID, ck.kind.ID, cr.rule.ID)
				}
			}
		}
	}
	def, err := ParseDefinition("whole-row.yaml", []byte(`id: whole-row
title: Whole row
receipt_prefix: WR
deadline: {date: "2025-06-30"}
kinds:
  - id: k
    title: K
    columns:
      - {key: a, header: A, type: text}
      - {key: b, header: B, type: text}
    rules:
      - {id: by-column, assert: "row.a != 'x'", column: a, message: "not x"}
      - {id: whole-row, assert: "size(row) < 3 || row.a != 'y'", column: a, message: "reads the whole row"}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, cr := range def.c.kinds[0].rules {
		got[cr.rule.ID] = cr.memo
	}
	if !got["by-column"] || got["whole-row"] {
		t.Errorf("memo by rule: %v; want by-column remembered, whole-row not", got)
	}
}

// Remembered outcomes give the same findings as evaluating every row:
// rows alternate between passing and failing inputs.
func TestRuleMemo_sameFindings(t *testing.T) {
	defs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var def *Definition
	for _, d := range defs {
		if d.ID == "ses-designation-review" {
			def = d
		}
	}
	sub := Check(def, []Input{{Name: "r.xlsx", Data: memoWorkbook(t)}}, Context{Agency: "HS", Limits: DefaultLimits()})
	var rows []int
	for _, f := range sub.Findings {
		if f.Code == "career-reserved-incumbent" {
			rows = append(rows, f.Row)
		}
	}
	want := []int{3, 5, 7}
	if len(rows) != len(want) {
		t.Fatalf("career-reserved-incumbent at rows %v, want %v (findings %v)", rows, want, codes(sub.Findings))
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Fatalf("career-reserved-incumbent at rows %v, want %v", rows, want)
		}
	}
}

func codes(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Cell() + ":" + f.Code + " ")
	}
	return b.String()
}
