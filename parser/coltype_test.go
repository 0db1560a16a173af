package parser_test

import (
	"strings"
	"testing"

	"intake/parser"
)

// Each column type is described, validated and formatted from one table:
// what a fix says to enter, the Instructions sheet's type text, the
// template's drop-down, validation and cell format agree for every type.
func TestColumn_typeDefinedOnce(t *testing.T) {
	def, err := parser.ParseDefinition("types.yaml", []byte(`id: types
title: Types
receipt_prefix: TY
deadline: {date: "2025-03-24"}
kinds:
  - id: t
    columns:
      - {key: text, header: Position Title, type: text, max_length: 60, unique: true, description: As on the position description}
      - {key: free, header: Notes, type: text}
      - {key: yn, header: YN, type: yesno}
      - {key: enum, header: Enum, type: enum, allowed: [General, Career Reserved]}
      - {key: date, header: Date, type: date}
      - {key: int, header: Int, type: integer, min: 1, max: 15}
      - {key: num, header: Num, type: number, min: 0}
      - {key: any, header: Any, type: integer}
      - {key: email, header: Email, type: email}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		enter, typeText, format string
		choices                 []string
		kind                    string
		min, max                float64
		errText                 string
	}{
		"text":  {"the position title (As on the position description)", "Text, at most 60 characters, unique in the sheet", parser.FormatText, nil, parser.ValidationTextLength, 0, 60, "Enter at most 60 characters."},
		"free":  {"the notes", "Text", parser.FormatText, nil, "", 0, 0, ""},
		"yn":    {"Y or N", "Y or N", parser.FormatText, []string{"Y", "N"}, parser.ValidationList, 0, 0, "Choose one of the values in the list."},
		"enum":  {"one of: General; Career Reserved", "One of the allowed values", parser.FormatText, []string{"General", "Career Reserved"}, parser.ValidationList, 0, 0, "Choose one of the values in the list."},
		"date":  {"a date (YYYY-MM-DD)", "Date (YYYY-MM-DD)", parser.FormatDate, nil, parser.ValidationDate, 1, 109574, "Enter a date, for example 2025-03-24."},
		"int":   {"a whole number from 1 to 15", "Whole number, 1 to 15", "", nil, parser.ValidationWhole, 1, 15, "Enter a whole number from 1 to 15."},
		"num":   {"a number of at least 0", "Number, at least 0", "", nil, parser.ValidationDecimal, 0, 2147483647, "Enter a number from 0 to 2147483647."},
		"any":   {"a whole number", "Whole number", "", nil, parser.ValidationWhole, -2147483648, 2147483647, "Enter a whole number."},
		"email": {"an email address", "Email address", parser.FormatText, nil, "", 0, 0, ""},
	}
	for _, c := range def.Kind("t").Columns {
		w := want[c.Key]
		v := c.Validation()
		if got := c.Enter(); got != w.enter {
			t.Errorf("%s: Enter %q, want %q", c.Key, got, w.enter)
		}
		if got := c.TypeText(); got != w.typeText {
			t.Errorf("%s: TypeText %q, want %q", c.Key, got, w.typeText)
		}
		if got := c.CellFormat(); got != w.format {
			t.Errorf("%s: CellFormat %q, want %q", c.Key, got, w.format)
		}
		if got := c.Choices(); strings.Join(got, "|") != strings.Join(w.choices, "|") || strings.Join(v.List, "|") != strings.Join(w.choices, "|") {
			t.Errorf("%s: Choices %q, validation list %q, want %q", c.Key, got, v.List, w.choices)
		}
		if v.Kind != w.kind || v.Min != w.min || v.Max != w.max || v.Error != w.errText {
			t.Errorf("%s: Validation %+v, want %s %v..%v %q", c.Key, v, w.kind, w.min, w.max, w.errText)
		}
		if (v.Kind != "") && v.Prompt != c.Description {
			t.Errorf("%s: prompt %q", c.Key, v.Prompt)
		}
	}
	// A text column with a description but no rule carries the prompt alone.
	if v := (parser.Column{Header: "Org", Type: parser.TypeText, Description: "The office"}).Validation(); v.Kind != parser.ValidationAny || v.Prompt != "The office" {
		t.Errorf("described free text: %+v", v)
	}
}

// A fix says what to enter in the words the template uses: the cell
// check and the Instructions sheet read the same table.
func TestColumn_fixesUseEnter(t *testing.T) {
	def := typesDef(t, false)
	cols := map[string]parser.Column{}
	for _, c := range def.Kind("t").Columns {
		cols[c.Key] = c
	}
	for key, v := range map[string]any{"yn": "maybe", "enum": "Other", "int": "x", "num": "x"} {
		header := map[string]string{"yn": "YN", "enum": "Enum", "int": "Int", "num": "Num"}[key]
		sub := parser.Check(def, []parser.Input{{Name: "t.xlsx", Data: oneCell(t, header, v, false)}}, parser.Context{})
		if len(sub.Findings) != 1 || sub.Findings[0].Fix != "Enter "+cols[key].Enter()+"." {
			t.Errorf("%s: findings %+v, want the fix %q", key, sub.Findings, "Enter "+cols[key].Enter()+".")
		}
	}
}
