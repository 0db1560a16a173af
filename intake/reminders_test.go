package intake_test

import (
	"context"
	"slices"
	"testing"

	"intake/intake"
	"intake/parser"
)

// Reminders go once to each agency with no accepted submission, within
// ReminderDays of a deadline, to all its contacts on one message; agencies
// that answered are not reminded.
func TestReminders_oncePerAgencyAndDeadline(t *testing.T) {
	h := newHarness(t, harnessOptions{Modify: func(o *intake.Options) {
		calls, err := parser.NewRegistry(o.Calls.Get("ses-designation-review"))
		if err != nil {
			t.Fatal(err)
		}
		o.Calls = calls
		for i := range o.Agencies {
			if o.Agencies[i].Code == "TR" {
				o.Agencies[i].Contacts = []string{"hr.director@treasury.gov", "sesreports@treasury.gov"}
			}
		}
	}})
	// HS answers; TR never does.
	h.deliver(goodSubmission(t, "hs@dhs.gov"))
	h.start()
	h.replies(1)
	h.stop()
	h.stop = nil

	opts := h.opts
	opts.ReminderDays = 12 // the clock reads 14 March; the SES review is due 24 March
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := d.QueueReminders(ctx); err != nil || n != 1 {
		t.Fatalf("queued %d (%v), want 1: TR only", n, err)
	}
	if n, err := d.QueueReminders(ctx); err != nil || n != 0 {
		t.Fatalf("another round queued %d (%v), want 0: a reminder goes once", n, err)
	}
	if _, err := d.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	r := h.replies(2)[1]
	if !slices.Equal(r.To, []string{"hr.director@treasury.gov", "sesreports@treasury.gov"}) || headerOf(r.Data, "Auto-Submitted") != "auto-generated" {
		t.Errorf("reminder to %v, Auto-Submitted %q", r.To, headerOf(r.Data, "Auto-Submitted"))
	}
}
