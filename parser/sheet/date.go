package sheet

import (
	"strconv"
	"strings"
	"time"
)

// isoSerial converts the ISO 8601 value of a t="d" cell (ECMA-376
// 18.17.4.1; written by openpyxl's iso_dates and SheetJS) to the serial
// number Excel would have stored, so such a cell reads as a date cell like
// any other: "2021-01-01", "2021-01-01T10:10:10[.fff][Z]", "10:10:10".
// It reports false for a value it cannot read.
func isoSerial(v string, date1904 bool) (string, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(v, "Z")
	layouts := []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02", "15:04:05.999999999", "15:04"}
	for _, l := range layouts {
		t, err := time.Parse(l, v)
		if err != nil {
			continue
		}
		if !strings.HasPrefix(l, "2006") { // a time of day alone
			d := t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
			return strconv.FormatFloat(d.Seconds()/86400, 'f', -1, 64), true
		}
		return strconv.FormatFloat(timeSerial(t, date1904), 'f', -1, 64), true
	}
	return "", false
}

// timeSerial is the inverse of SerialTime.
func timeSerial(t time.Time, date1904 bool) float64 {
	base := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	if date1904 {
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	} else if t.Before(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)) {
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC) // Excel's 1900 leap-year bug
	}
	secs := float64(t.Unix()-base.Unix()) + float64(t.Nanosecond())/1e9
	return secs / 86400
}
