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

// cellContext is what coercing a cell needs beyond the cell and its
// column, for one sheet: the workbook's date system, and the dates
// already converted (a report repeats a few hundred dates over
// thousands of rows).
type cellContext struct {
	date1904 bool
	dates    map[string]string // raw serial -> YYYY-MM-DD
}

// maxDateCache bounds the dates one sheet remembers.
const maxDateCache = 4096

// date reads a date cell, a number in the range of plausible serials, or
// a date typed as text, as YYYY-MM-DD.
func (x *cellContext) date(c *sheet.Cell, v string) (string, bool) {
	if c.Type == sheet.Number {
		if !c.Date {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < minSerial || f >= maxSerial+1 {
				return "", false
			}
		}
		return x.serialDate(v)
	}
	if len(v) > 40 {
		return "", false
	}
	if len(v) == 10 && v[4] == '-' && v[7] == '-' {
		if t, err := time.Parse(time.DateOnly, v); err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
			return v, true // already in the normal form
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// serialDate converts an Excel serial as written in the file.
func (x *cellContext) serialDate(v string) (string, bool) {
	if d, ok := x.dates[v]; ok {
		return d, true
	}
	t, ok := sheet.SerialTime(v, x.date1904)
	if !ok {
		return "", false
	}
	d := t.Format(time.DateOnly)
	if x.dates == nil {
		x.dates = map[string]string{}
	}
	if len(x.dates) < maxDateCache {
		x.dates[strings.Clone(v)] = d // not the row's backing string
	}
	return d, true
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
		return &problem{"out-of-range", "The number is out of range" + col.RangeText() + ".", "Enter a number" + col.RangeText() + "."}
	}
	return nil
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
