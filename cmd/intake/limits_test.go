package main

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"intake/parser"
	"intake/parser/email"
)

// Limits left out keep the defaults the README lists; those set reach the
// parser's and the MIME reader's limits; nonsense is refused by name.
func TestLimitsConfig(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	load := func(extra string) (*Config, error) {
		path := filepath.Join(dir, "intake.yaml")
		writeTestFile(t, path, "from: allocation-management@opm.gov\nimap: {addr: \"imap.example.gov:993\", username: bot, password: x}\nsmtp: {host: smtp.example.gov}\n"+extra)
		return LoadConfig(path)
	}
	c, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.parser() != parser.DefaultLimits() || c.Limits.email() != email.DefaultLimits() {
		t.Errorf("limits left out: %+v, %+v; want the defaults", c.Limits.parser(), c.Limits.email())
	}
	if c.MemoryLimitMB != defaultMemoryLimitMB {
		t.Errorf("memory_limit_mb left out = %d, want %d", c.MemoryLimitMB, defaultMemoryLimitMB)
	}

	c, err = load("limits: {max_file_mb: 100, max_attachments_mb: 200, max_unzipped_mb: 1024, max_rows: 500000, max_cells: 30000000}\nmemory_limit_mb: -1\n")
	if err != nil {
		t.Fatal(err)
	}
	p, e := c.Limits.parser(), c.Limits.email()
	if p.MaxFileBytes != 100<<20 || p.MaxUnzippedBytes != 1024<<20 || p.MaxRows != 500_000 || p.MaxCells != 30_000_000 ||
		p.MaxSheets != parser.DefaultLimits().MaxSheets {
		t.Errorf("parser limits = %+v", p)
	}
	if e.MaxPartBytes != 100<<20 || e.MaxAttachmentsBytes != 200<<20 || e.MaxParts != email.DefaultLimits().MaxParts {
		t.Errorf("email limits = %+v", e)
	}
	if c.MemoryLimitMB != -1 {
		t.Errorf("memory_limit_mb = %d, want -1 (none)", c.MemoryLimitMB)
	}

	for extra, want := range map[string]string{
		"limits: {max_rows: -1}\n":                            "limits.max_rows",
		"limits: {max_file_mb: 60}\n":                         "limits.max_attachments_mb",
		"limits: {max_file_mb: 30, max_attachments_mb: 20}\n": "limits.max_attachments_mb",
		"memory_limit_mb: -2\n":                               "memory_limit_mb",
		"smtp: {host: smtp.example.gov, connections: -1}\n":   "smtp.connections",
		"limits: {max_unzipped_mb: -5, max_cells: -1}\n":      "limits.max_cells",
		"limits: {max_file_mb: 10, max_attachment_mb: 20}\n":  "max_attachment_mb", // a typo is refused, never ignored
	} {
		if strings.HasPrefix(extra, "smtp:") {
			extra = strings.Replace(extra, "smtp:", "smtp2:", 1) // replaced below: one smtp key per file
		}
		path := filepath.Join(dir, "bad.yaml")
		body := "from: allocation-management@opm.gov\nimap: {addr: \"imap.example.gov:993\", username: bot, password: x}\n"
		if strings.HasPrefix(extra, "smtp2:") {
			body += strings.Replace(extra, "smtp2:", "smtp:", 1)
		} else {
			body += "smtp: {host: smtp.example.gov}\n" + extra
		}
		writeTestFile(t, path, body)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it refused naming %s", extra, err, want)
		}
	}
}

// intake run sets the soft memory limit of its heap, and gives the one
// before back; a GOMEMLIMIT of the environment wins, and -1 sets none.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Setenv("GOMEMLIMIT", "")
	restore := setMemoryLimit(123)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("limit = %d, want %d", got, 123<<20)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after restore: %d, want %d", got, before)
	}
	setMemoryLimit(-1)()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("-1 changed the limit to %d", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(123)()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}
}
