package parser

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"intake/parser/sheet"
)

// problem is what is wrong with one cell: a finding without its place.
// msg and fix never hold the cell's value; valued is the same message with
// the value for calls without PII.
type problem struct {
	code, msg, fix string
}

// dateLayouts are the text dates accepted besides real date cells: ISO
// first, then the US forms people type.
var dateLayouts = []string{
	"2006-01-02", "2006-1-2", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006/1/2",
	"1/2/2006", "1-2-2006", "1/2/06",
	"January 2, 2006", "Jan 2, 2006", "2 January 2006", "2-Jan-2006", "2 Jan 2006",
}

// Excel serials accepted as dates in a cell not formatted as a date:
// 1 January 1990 to 31 December 2099. A smaller number (a year typed as
// 2025) is refused rather than read as 1905.
const minSerial, maxSerial = 32874, 73050

var emailPattern = regexp.MustCompile(`^[^@\s<>(),;:"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

// placeholders are texts that say nothing: a justification made of one of
// them is not substantive.
var placeholders = map[string]bool{
	"na": true, "n a": true, "none": true, "tbd": true, "tba": true, "to be determined": true,
	"see above": true, "same as above": true, "as above": true, "see attached": true, "attached": true,
	"x": true, "xx": true, "xxx": true, "test": true, "pending": true, "same": true, "ditto": true,
	"": true, "nil": true, "null": true, "not applicable": true,
}

// minSubstantiveWords is the least number of words of a substantive text.
const minSubstantiveWords = 15

// coerce turns a raw cell into the column's normalised value. A blank
// cell gives "", nil.
func coerce(cc *compiledColumn, c *sheet.Cell, date1904 bool) (string, *problem) {
	if c == nil {
		return "", nil
	}
	col := cc.col
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
	switch col.Type {
	case TypeText:
		if c.Date && col.Type == TypeText {
			if t, ok := c.Time(date1904); ok {
				v = t.Format(time.DateOnly)
			}
		} else if c.Type == sheet.Number || c.Type == sheet.Bool {
			v = c.Text() // as the spreadsheet shows it: 340 under "0000" is 0340 (issue 15)
		}
		if col.Reference != "" {
			v = strings.ToUpper(v)
		}
		if n := utf8.RuneCountInString(v); n > cc.maxLen {
			return v, &problem{"too-long", "The text is " + strconv.Itoa(n) + " characters long; at most " + strconv.Itoa(cc.maxLen) + " are allowed.", "Shorten the text."}
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
	case TypeYesNo:
		switch normValue(v) {
		case "y", "yes", "true", "1":
			return "Y", nil
		case "n", "no", "false", "0":
			return "N", nil
		}
		return v, &problem{"not-yes-no", "The value is not Y or N.", "Enter Y or N."}
	case TypeEnum:
		if canon, ok := lookupNorm(cc.allowed, v); ok {
			return canon, nil
		}
		return v, &problem{"not-allowed", "The value is not one of the allowed values.", "Enter one of: " + strings.Join(col.Allowed, "; ") + "."}
	case TypeDate:
		if t, ok := cellDate(c, v, date1904); ok {
			return t.Format(time.DateOnly), nil
		}
		return v, &problem{"bad-date", "The value is not a date.", "Enter a date as a date cell, or as text YYYY-MM-DD (e.g. 2025-03-24)."}
	case TypeInteger:
		f, ok := cellNumber(c, v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1e15 {
			return v, &problem{"not-integer", "The value is not a whole number.", "Enter a whole number" + rangeText(col) + "."}
		}
		if p := checkRange(col, f); p != nil {
			return strconv.FormatInt(int64(f), 10), p
		}
		return strconv.FormatInt(int64(f), 10), nil
	case TypeNumber:
		f, ok := cellNumber(c, v)
		if !ok {
			return v, &problem{"not-number", "The value is not a number.", "Enter a number" + rangeText(col) + "."}
		}
		s := strconv.FormatFloat(f, 'f', -1, 64)
		return s, checkRange(col, f)
	case TypeEmail:
		if !emailPattern.MatchString(v) {
			return v, &problem{"bad-email", "The value is not an email address.", "Enter one email address, e.g. name@agency.gov."}
		}
		at := strings.LastIndexByte(v, '@')
		return v[:at] + strings.ToLower(v[at:]), nil
	}
	return v, nil
}

func cellDate(c *sheet.Cell, v string, date1904 bool) (time.Time, bool) {
	if c.Type == sheet.Number {
		if c.Date {
			return c.Time(date1904)
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= minSerial && f < maxSerial+1 {
			return sheet.SerialTime(v, date1904)
		}
		return time.Time{}, false
	}
	if len(v) > 40 {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
			return t, true
		}
	}
	return time.Time{}, false
}

func cellNumber(c *sheet.Cell, v string) (float64, bool) {
	if c.Type == sheet.String {
		v = strings.NewReplacer(",", "", " ", "", "\u00a0", "").Replace(v)
	}
	if c.Type == sheet.Bool || v == "" || len(v) > 40 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func checkRange(col *Column, f float64) *problem {
	if (col.Min != nil && f < *col.Min) || (col.Max != nil && f > *col.Max) {
		return &problem{"out-of-range", "The number is out of range" + rangeText(col) + ".", "Enter a number" + rangeText(col) + "."}
	}
	return nil
}

func rangeText(col *Column) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case col.Min != nil && col.Max != nil:
		return " from " + num(*col.Min) + " to " + num(*col.Max)
	case col.Min != nil:
		return " of at least " + num(*col.Min)
	case col.Max != nil:
		return " of at most " + num(*col.Max)
	}
	return ""
}

// unsubstantive reports a text that says nothing: a placeholder, or
// fewer than minSubstantiveWords words.
func unsubstantive(v string) *problem {
	n := normSubject(v)
	if placeholders[n] || strings.Contains(n, "lorem ipsum") {
		return &problem{"placeholder", "The text is a placeholder, not an explanation.", "Explain in your own words why the requirement is met (at least " + strconv.Itoa(minSubstantiveWords) + " words)."}
	}
	if words := len(strings.Fields(n)); words < minSubstantiveWords {
		return &problem{"not-substantive", "The text is too short to explain anything (" + strconv.Itoa(words) + " words).", "Explain in at least " + strconv.Itoa(minSubstantiveWords) + " words why the requirement is met."}
	}
	return nil
}

// limitText cuts s to n runes for display.
func limitText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
