package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// workers and max_process_time reach the daemon; left out, the daemon's
// defaults apply (zero), and a negative value is refused by name.
func TestConfig_workersAndDeadline(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	write := func(extra string) string {
		p := filepath.Join(dir, "intake.yaml")
		body := "store: " + filepath.Join(dir, "intake.db") + "\nfrom: allocation-management@opm.gov\n" +
			"agencies: [{code: HS, senders: [\"@dhs.gov\"]}]\n" + extra
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, err := openTestApp(t, write("workers: 3\nmax_process_time: 90s\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := a.daemonOptions()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Workers != 3 || opts.MaxProcessTime != 90*time.Second {
		t.Errorf("daemon options: workers %d, max_process_time %s; want 3 and 1m30s", opts.Workers, opts.MaxProcessTime)
	}
	for _, bad := range []string{"workers: -1\n", "max_process_time: -5s\n"} {
		_, err := LoadConfig(write(bad))
		name, _, _ := strings.Cut(bad, ":")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%q: LoadConfig = %v, want an error naming %s", strings.TrimSpace(bad), err, name)
		}
	}
}
