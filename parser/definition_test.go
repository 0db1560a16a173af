package parser_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"intake/parser"
)

const minimalCall = `
id: x-call
title: X
receipt_prefix: XC
deadline: {date: "2025-03-24"}
kinds:
  - id: a
    columns:
      - {key: b, header: B, type: text}
      - {key: c, header: C, type: enum, allowed: [One, Two]}
`

func TestParseDefinition_builtins(t *testing.T) {
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, d := range defs {
		ids[d.ID] = true
	}
	for _, want := range []string{"ses-designation-review", "performance-below-fully-successful", "deferred-resignation-weekly"} {
		if !ids[want] {
			t.Errorf("built-in %q missing", want)
		}
	}
	r := mustRegistry(t)
	if !r.Get("performance-below-fully-successful").PII || r.Get("ses-designation-review").PII {
		t.Error("PII flags wrong")
	}
	if len(r.All()) != 3 {
		t.Errorf("All() = %d", len(r.All()))
	}
}

func TestParseDefinition_errors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown type", "type: text}", "type: dat}", `calls/x.yaml: kind "a": column "b": unknown type "dat"`},
		{"unknown field", "title: X", "title: X\nfoo: 1", "field foo not found"},
		{"duplicate column", "{key: c, header: C", "{key: b, header: C", `column "b": key used twice`},
		{"duplicate kind", "kinds:\n", "kinds:\n  - {id: a, columns: [{key: z, header: Z, type: text}]}\n", `kind "a": defined twice`},
		{"enum without allowed", "type: enum, allowed: [One, Two]", "type: enum", "allowed values missing"},
		{"bad pattern", "type: text}", "type: text, pattern: \"[a-\"}", `column "b": pattern`},
		{"bad deadline", `date: "2025-03-24"`, `date: "24/03/2025"`, `deadline: date "24/03/2025"`},
		{"bad zone", `date: "2025-03-24"`, `date: "2025-03-24", zone: Mars/Base`, `zone "Mars/Base"`},
		{"weekly wrong weekday", `{date: "2025-03-24"}`, `{weekly: {weekday: Monday, start: "2025-03-04", until: "2025-09-30"}}`, "is a Tuesday, not a Monday"},
		{"rule bad CEL", "Two]}\n", "Two]}\n    rules:\n      - {id: r, assert: 'row.b ==', message: m}\n", `rule "r": assert`},
		{"rule unknown column", "Two]}\n", "Two]}\n    rules:\n      - {id: r, assert: 'row.zz == \"\"', message: m}\n", `column "zz": no such column`},
		{"rule not bool", "Two]}\n", "Two]}\n    rules:\n      - {id: r, assert: 'row.b', message: m}\n", "want bool"},
		{"lookup kind missing", "kinds:", "rules:\n  - {id: r, kind: a, column: b, lookup: {kind: nope, column: b}, message: m}\nkinds:", `lookup: kind "nope"`},
		{"lookup column missing", "kinds:", "rules:\n  - {id: r, kind: a, column: b, lookup: {kind: a, column: q}, message: m}\nkinds:", `lookup: column "q"`},
		{"unknown reference", "type: text}", "type: text, reference: planet}", `reference "planet"`},
		{"key column missing", "  - id: a\n", "  - id: a\n    key: [nope]\n", `key: column "nope"`},
		{"bad id", "id: x-call", "id: X Call", `id "X Call"`},
		{"value alias to nothing", "allowed: [One, Two]", "allowed: [One, Two], value_aliases: {1: Three}", "not an allowed value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimalCall, tc.from, tc.to, 1)
			if src == minimalCall {
				t.Fatalf("test case does not change the definition")
			}
			_, err := parser.ParseDefinition("calls/x.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "parser: calls/x.yaml: ") {
				t.Errorf("err %q does not name the file", err)
			}
		})
	}
	if _, err := parser.ParseDefinition("calls/x.yaml", []byte(minimalCall)); err != nil {
		t.Fatalf("minimal call refused: %v", err)
	}
}

func TestLoadFS_andRegistry(t *testing.T) {
	other := strings.Replace(minimalCall, "id: x-call", "id: y-call", 1)
	fsys := fstest.MapFS{
		"x.yaml":     {Data: []byte(minimalCall)},
		"y.yml":      {Data: []byte(other)},
		"notes.txt":  {Data: []byte("not a call")},
		"sub/z.yaml": {Data: []byte("garbage: [")},
	}
	defs, err := parser.LoadFS(fsys)
	if err != nil || len(defs) != 2 {
		t.Fatalf("LoadFS = %d defs, %v", len(defs), err)
	}
	if _, err := parser.NewRegistry(defs[0], defs[0]); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("duplicate id accepted: %v", err)
	}
	r, err := parser.NewRegistry(defs...)
	if err != nil || r.Get("y-call") == nil || r.Get("nope") != nil {
		t.Fatalf("registry: %v", err)
	}
	fsys["bad.yaml"] = &fstest.MapFile{Data: []byte("id: [")}
	if _, err := parser.LoadFS(fsys); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("bad file: %v", err)
	}
}
