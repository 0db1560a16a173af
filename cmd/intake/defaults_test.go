package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Reminders are off unless configured: a configuration that does not
// name reminder_days sends none; one that does is taken at its word.
func TestConfig_remindersOffByDefault(t *testing.T) {
	dir := t.TempDir()
	load := func(extra string) *Config {
		p := filepath.Join(dir, "intake.yaml")
		body := "from: allocation-management@opm.gov\nagencies: [{code: HS, senders: [\"@dhs.gov\"]}]\n" + extra
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := load(""); c.ReminderDays != 0 {
		t.Errorf("reminder_days defaults to %d, want 0 (off)", c.ReminderDays)
	}
	if c := load("reminder_days: 5\n"); c.ReminderDays != 5 {
		t.Errorf("reminder_days: 5 read as %d", c.ReminderDays)
	}
}
