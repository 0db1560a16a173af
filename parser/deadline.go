package parser

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// defaultZone is where OPM's deadlines fall.
const defaultZone = "America/New_York"

type weeklyDue struct {
	weekday      time.Weekday
	start, until time.Time // due dates, midnight in zone
}

func (c *compiled) compileDeadline(d *Deadline) error {
	zone := d.Zone
	if zone == "" {
		zone = defaultZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("zone %q: %v", zone, err)
	}
	c.zone = loc
	switch {
	case d.Date != "" && d.Weekly != nil:
		return errors.New("want date or weekly, not both")
	case d.Date != "":
		t, err := time.ParseInLocation(time.DateOnly, d.Date, loc)
		if err != nil {
			return fmt.Errorf("date %q: want YYYY-MM-DD", d.Date)
		}
		c.date = t
	case d.Weekly != nil:
		w := &weeklyDue{}
		found := false
		for wd := time.Sunday; wd <= time.Saturday; wd++ {
			if strings.EqualFold(wd.String(), strings.TrimSpace(d.Weekly.Weekday)) {
				w.weekday, found = wd, true
			}
		}
		if !found {
			return fmt.Errorf("weekly: weekday %q: want a day name such as Monday", d.Weekly.Weekday)
		}
		if w.start, err = time.ParseInLocation(time.DateOnly, d.Weekly.Start, loc); err != nil {
			return fmt.Errorf("weekly: start %q: want YYYY-MM-DD", d.Weekly.Start)
		}
		if w.until, err = time.ParseInLocation(time.DateOnly, d.Weekly.Until, loc); err != nil {
			return fmt.Errorf("weekly: until %q: want YYYY-MM-DD", d.Weekly.Until)
		}
		if w.start.Weekday() != w.weekday {
			return fmt.Errorf("weekly: start %s is a %s, not a %s", d.Weekly.Start, w.start.Weekday(), w.weekday)
		}
		if w.until.Before(w.start) {
			return errors.New("weekly: until is before start")
		}
		c.weekly = w
	default:
		return errors.New("want date or weekly")
	}
	return nil
}

// endOfDay is the last instant of the calendar day of t (midnight in its zone).
func endOfDay(t time.Time) time.Time {
	return t.AddDate(0, 0, 1).Add(-time.Nanosecond)
}

// midnight returns the start of t's calendar day in loc.
func midnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// isoWeek labels the ISO week of t, e.g. "2025-W10".
func isoWeek(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// Due returns the deadline that applies to a submission received then.
// For a single date it is the end of that day in the call's zone (period
// ""). For a weekly cadence it is the end of the next due day on or after
// the day received (the first due day before the series starts), and
// period is the reporting week it covers: the ISO week of the day before
// the due day ("2025-W10" is due Monday 2025-03-10). ok is false when no
// deadline applies (the weekly series has ended, or the definition was
// not loaded by ParseDefinition).
func (d *Definition) Due(received time.Time) (due time.Time, period string, ok bool) {
	if d.c == nil {
		return time.Time{}, "", false
	}
	c := d.c
	if c.weekly == nil {
		return endOfDay(c.date), "", true
	}
	w := c.weekly
	day := midnight(received, c.zone)
	if day.Before(w.start) {
		day = w.start
	}
	for day.Weekday() != w.weekday {
		day = day.AddDate(0, 0, 1)
	}
	if day.After(w.until) {
		return time.Time{}, "", false
	}
	return endOfDay(day), isoWeek(day.AddDate(0, 0, -1)), true
}

// periodDue returns the due day of a weekly period label: the first due
// weekday after the day that ends that ISO week... precisely the due day
// whose previous day lies in the week.
func (c *compiled) periodDue(period string) (time.Time, bool) {
	var year, week int
	if _, err := fmt.Sscanf(period, "%d-W%d", &year, &week); err != nil || week < 1 || week > 53 {
		return time.Time{}, false
	}
	// Monday of ISO week 1 is the Monday on or before 4 January.
	jan4 := time.Date(year, time.January, 4, 0, 0, 0, 0, c.zone)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+7*(week-1))
	for i := 1; i <= 7; i++ {
		day := monday.AddDate(0, 0, i)
		if day.Weekday() == c.weekly.weekday {
			return day, true
		}
	}
	return time.Time{}, false
}

// Late reports whether a submission received then, for that period,
// missed its deadline. For a weekly call the period's own due day counts
// (a report for 2025-W10 received on 2025-03-12 is late even though the
// next due day is ahead); an unknown period falls back to Due(received).
func (d *Definition) Late(received time.Time, period string) bool {
	if d.c == nil {
		return false
	}
	if d.c.weekly != nil && period != "" {
		if day, ok := d.c.periodDue(period); ok {
			return received.After(endOfDay(day))
		}
	}
	due, _, ok := d.Due(received)
	if !ok {
		return d.c.weekly != nil // after the series ended, everything is late
	}
	return received.After(due)
}

// Upcoming returns the due instants in [from, to], ascending, for
// reminders.
func (d *Definition) Upcoming(from, to time.Time) []time.Time {
	if d.c == nil || to.Before(from) {
		return nil
	}
	c := d.c
	var out []time.Time
	if c.weekly == nil {
		if due := endOfDay(c.date); !due.Before(from) && !due.After(to) {
			out = append(out, due)
		}
		return out
	}
	for day := c.weekly.start; !day.After(c.weekly.until); day = day.AddDate(0, 0, 7) {
		due := endOfDay(day)
		if due.After(to) {
			break
		}
		if !due.Before(from) {
			out = append(out, due)
		}
	}
	return out
}
