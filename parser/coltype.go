package parser

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"intake/parser/sheet"
)

// columnType is everything one column type means, in one place: how a
// cell is coerced to the normalised value, how the type is described to
// the sender ("Enter a whole number from 1 to 15") and on a template's
// Instructions sheet, and which data validation and cell format a blank
// template gives its cells. Checking, fixes and templates all consult
// this table; nothing else switches on Column.Type.
type columnType struct {
	title  string // the Instructions sheet's "Type" column, e.g. "Whole number"
	ranged bool   // Min and Max apply
	format string // template cell format: FormatText, FormatDate or ""
	// enter says what to enter, completing "Enter ...".
	enter func(col *Column) string
	// coerce turns a non-blank cell (v is its trimmed value) into the
	// normalised value, or names the problem.
	coerce func(cc *compiledColumn, c *sheet.Cell, v string, x *cellContext) (string, *problem)
	// validation is the template's data validation (Kind "" for none).
	validation func(col *Column) Validation
}

// Template cell formats (Column.CellFormat).
const (
	FormatText = "text" // shown as typed: codes such as "0340" keep their zeros
	FormatDate = "date" // yyyy-mm-dd
)

// Validation kinds (Validation.Kind).
const (
	ValidationList       = "list"       // one of Validation.List
	ValidationDate       = "date"       // a date serial from Min to Max (1900 date system)
	ValidationWhole      = "whole"      // a whole number from Min to Max
	ValidationDecimal    = "decimal"    // a number from Min to Max
	ValidationTextLength = "textLength" // text of Min to Max characters
	ValidationAny        = "any"        // any value: only the input message
)

// Validation is the data validation a blank template puts on the cells
// of a column (below the header), as Excel's Data Validation knows it.
type Validation struct {
	Kind     string   // a Validation kind; "" means no validation
	List     []string // ValidationList: the drop-down values
	Min, Max float64  // bounds of ValidationDate, ValidationWhole, ValidationDecimal, ValidationTextLength
	Error    string   // shown when Excel refuses a value, "" for none
	Prompt   string   // input message shown on the cell (the column's description), "" for none
}

// Bounds of a template's number validation when the column sets none:
// Excel's whole-number validation takes 32-bit values.
const (
	templateMinNumber = -2147483648.0
	templateMaxNumber = 2147483647.0
)

// templateMaxDate is the serial of 2199-12-31 in the 1900 date system,
// the last date a template accepts; serial 1 (1900-01-01) is the first.
// Counted in Unix seconds: 300 years overflow a time.Duration.
var templateMaxDate = float64((time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC).Unix() - time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Unix()) / 86400)

var columnTypes = map[string]*columnType{
	TypeText: {
		title:  "Text",
		format: FormatText,
		enter: func(col *Column) string {
			s := "the " + strings.ToLower(col.Header)
			if col.Description != "" {
				s += " (" + col.Description + ")"
			}
			return s
		},
		coerce:     coerceText,
		validation: textValidation,
	},
	TypeYesNo: {
		title:  "Y or N",
		format: FormatText,
		enter:  func(*Column) string { return "Y or N" },
		coerce: func(_ *compiledColumn, _ *sheet.Cell, v string, _ *cellContext) (string, *problem) {
			switch normValue(v) {
			case "y", "yes", "true", "1":
				return "Y", nil
			case "n", "no", "false", "0":
				return "N", nil
			}
			return v, &problem{"not-yes-no", "The value is not Y or N.", "Enter Y or N."}
		},
		validation: listValidation,
	},
	TypeEnum: {
		title:  "One of the allowed values",
		format: FormatText,
		enter:  enterEnum,
		coerce: func(cc *compiledColumn, _ *sheet.Cell, v string, _ *cellContext) (string, *problem) {
			if canon, ok := lookupNorm(cc.allowed, v); ok {
				return canon, nil
			}
			return v, &problem{"not-allowed", "The value is not one of the allowed values.", "Enter " + enterEnum(cc.col) + "."}
		},
		validation: listValidation,
	},
	TypeDate: {
		title:  "Date (YYYY-MM-DD)",
		format: FormatDate,
		enter:  func(*Column) string { return "a date (YYYY-MM-DD)" },
		coerce: func(cc *compiledColumn, c *sheet.Cell, v string, x *cellContext) (string, *problem) {
			if d, ok := x.date(c, v); ok {
				return d, nil
			}
			return v, &problem{"bad-date", "The value is not a date.", "Enter a date as a date cell, or as text YYYY-MM-DD (e.g. 2025-03-24)."}
		},
		validation: func(*Column) Validation {
			return Validation{Kind: ValidationDate, Min: 1, Max: templateMaxDate, Error: "Enter a date, for example 2025-03-24."}
		},
	},
	TypeInteger: {
		title:  "Whole number",
		ranged: true,
		enter:  enterInteger,
		coerce: func(cc *compiledColumn, c *sheet.Cell, v string, _ *cellContext) (string, *problem) {
			f, ok := cellNumber(c, v)
			if !ok || f != math.Trunc(f) || math.Abs(f) > 1e15 {
				return v, &problem{"not-integer", "The value is not a whole number.", "Enter " + enterInteger(cc.col) + "."}
			}
			return strconv.FormatInt(int64(f), 10), checkRange(cc.col, f)
		},
		validation: func(col *Column) Validation { return numberValidation(col, ValidationWhole, "Enter a whole number") },
	},
	TypeNumber: {
		title:  "Number",
		ranged: true,
		enter:  enterNumber,
		coerce: func(cc *compiledColumn, c *sheet.Cell, v string, _ *cellContext) (string, *problem) {
			f, ok := cellNumber(c, v)
			if !ok {
				return v, &problem{"not-number", "The value is not a number.", "Enter " + enterNumber(cc.col) + "."}
			}
			return strconv.FormatFloat(f, 'f', -1, 64), checkRange(cc.col, f)
		},
		validation: func(col *Column) Validation { return numberValidation(col, ValidationDecimal, "Enter a number") },
	},
	TypeEmail: {
		title:  "Email address",
		format: FormatText,
		enter:  func(*Column) string { return "an email address" },
		coerce: func(_ *compiledColumn, _ *sheet.Cell, v string, _ *cellContext) (string, *problem) {
			if !emailPattern.MatchString(v) {
				return v, &problem{"bad-email", "The value is not an email address.", "Enter one email address, e.g. name@agency.gov."}
			}
			at := strings.LastIndexByte(v, '@')
			return v[:at] + strings.ToLower(v[at:]), nil
		},
		validation: textValidation,
	},
}

func enterEnum(col *Column) string    { return "one of: " + strings.Join(col.Allowed, "; ") }
func enterInteger(col *Column) string { return "a whole number" + col.RangeText() }
func enterNumber(col *Column) string  { return "a number" + col.RangeText() }

// typeOf returns the column's type; a column without one (a Column not
// loaded through ParseDefinition) is text.
func typeOf(col *Column) *columnType {
	if t := columnTypes[col.Type]; t != nil {
		return t
	}
	return columnTypes[TypeText]
}

// textValidation bounds the length of text; without a bound, a column
// with a description gets a validation carrying only its input message.
func textValidation(col *Column) Validation {
	if col.MaxLength <= 0 {
		if col.Description == "" {
			return Validation{}
		}
		return Validation{Kind: ValidationAny}
	}
	return Validation{Kind: ValidationTextLength, Min: 0, Max: float64(col.MaxLength),
		Error: fmt.Sprintf("Enter at most %d characters.", col.MaxLength)}
}

func listValidation(col *Column) Validation {
	vals := col.Choices()
	if len(vals) == 0 {
		return Validation{}
	}
	return Validation{Kind: ValidationList, List: vals, Error: "Choose one of the values in the list."}
}

func numberValidation(col *Column, kind, enter string) Validation {
	v := Validation{Kind: kind, Min: templateMinNumber, Max: templateMaxNumber}
	if col.Min != nil {
		v.Min = *col.Min
	}
	if col.Max != nil {
		v.Max = *col.Max
	}
	v.Error = enter
	if col.Min != nil || col.Max != nil {
		v.Error += " from " + formatNumber(v.Min) + " to " + formatNumber(v.Max)
	}
	v.Error += "."
	return v
}

// Enter says what a cell of the column takes, completing "Enter ...":
// "Y or N", "one of: General; Career Reserved", "a whole number from 1
// to 15", "the position title (as on the position description)".
func (col Column) Enter() string { return typeOf(&col).enter(&col) }

// RangeText is the column's allowed range in words, with a leading
// space (" from 1 to 15", " of at least 0"), or "" when it has none.
func (col Column) RangeText() string {
	switch {
	case col.Min != nil && col.Max != nil:
		return " from " + formatNumber(*col.Min) + " to " + formatNumber(*col.Max)
	case col.Min != nil:
		return " of at least " + formatNumber(*col.Min)
	case col.Max != nil:
		return " of at most " + formatNumber(*col.Max)
	}
	return ""
}

// TypeText describes the column's type for a template's Instructions
// sheet: "Whole number, 1 to 15", "Text, at most 60 characters, unique
// in the sheet".
func (col Column) TypeText() string {
	t := typeOf(&col)
	s := t.title
	if t.ranged {
		switch {
		case col.Min != nil && col.Max != nil:
			s += ", " + formatNumber(*col.Min) + " to " + formatNumber(*col.Max)
		case col.Min != nil:
			s += ", at least " + formatNumber(*col.Min)
		case col.Max != nil:
			s += ", at most " + formatNumber(*col.Max)
		}
	}
	if col.MaxLength > 0 {
		s += fmt.Sprintf(", at most %d characters", col.MaxLength)
	}
	if col.Unique {
		s += ", unique in the sheet"
	}
	return s
}

// Choices are the values a template's drop-down offers for the column:
// the allowed values of an enum, Y and N for yes/no; nil otherwise.
func (col Column) Choices() []string {
	switch col.Type {
	case TypeEnum:
		if len(col.Allowed) > 0 {
			return col.Allowed
		}
	case TypeYesNo:
		return []string{"Y", "N"}
	}
	return nil
}

// Validation is the data validation a blank template puts on the
// column's cells, with the column's description as the input message.
func (col Column) Validation() Validation {
	v := typeOf(&col).validation(&col)
	if v.Kind != "" {
		v.Prompt = col.Description
	}
	return v
}

// CellFormat is the number format a blank template gives the column's
// cells: FormatText, FormatDate, or "" for the general format.
func (col Column) CellFormat() string { return typeOf(&col).format }

// coerce turns a raw cell into the column's normalised value. A blank
// cell gives "", nil.
func coerce(cc *compiledColumn, c *sheet.Cell, x *cellContext) (string, *problem) {
	if c == nil {
		return "", nil
	}
	if c.Type == sheet.Error {
		return "", &problem{"formula-error", "The cell shows an Excel error (" + limitText(c.Value, 16) + ").", "Enter the value itself instead of a formula that fails."}
	}
	v := c.Value
	if c.Type == sheet.String {
		v = trimCell(v)
	}
	if v == "" {
		return "", nil
	}
	return cc.typ.coerce(cc, c, v, x)
}

func coerceText(cc *compiledColumn, c *sheet.Cell, v string, x *cellContext) (string, *problem) {
	col := cc.col
	if c.Date && c.Type == sheet.Number {
		if d, ok := x.serialDate(v); ok {
			v = d
		}
	} else if c.Type == sheet.Number || c.Type == sheet.Bool {
		v = c.Text() // as the spreadsheet shows it: 340 under "0000" is 0340 (issue 15)
	}
	if col.Reference != "" {
		v = strings.ToUpper(v)
	}
	if len(v) > cc.maxLen { // a rune is at least one byte: count only when it may matter
		if n := utf8.RuneCountInString(v); n > cc.maxLen {
			return v, &problem{"too-long", "The text is " + strconv.Itoa(n) + " characters long; at most " + strconv.Itoa(cc.maxLen) + " are allowed.", "Shorten the text."}
		}
	}
	if cc.re != nil && !cc.re.MatchString(v) {
		fix := "Enter a value of the form required"
		if col.Example != "" {
			fix += ", e.g. " + col.Example
		}
		if col.Description != "" {
			fix += " (" + col.Description + ")"
		}
		return v, &problem{"bad-format", "The value does not have the required form.", fix + "."}
	}
	if col.Substantive {
		if p := unsubstantive(v); p != nil {
			return v, p
		}
	}
	return v, nil
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
