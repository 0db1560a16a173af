package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"intake/parser"
	"intake/parser/parsertest"
)

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// `intake demo` does the whole job: six mails in, four replies out, the
// forged one quarantined; then the staff commands read its store.
func TestDemoAndStaffCommands(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runCmd(t, "demo", "--serve=false", "--dir", dir)
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{"reply 4 of 4", "Your submission was NOT accepted", "Changes since version 1", "Quarantine  1", "INBOX       0"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	db := filepath.Join(dir, "intake.db")
	demoHintsRun(t, out)

	out, _, err = runCmd(t, "list", "--store", db)
	if err != nil || strings.Count(out, "SES-2025-") != 4 {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "list", "--store", db, "--messages", "--status", "rejected")
	if err != nil || !strings.Contains(out, "chco@dhs.gov") || !strings.Contains(out, "authentication failed") {
		t.Errorf("list --messages: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "show", "--store", db, "SES-2025-000002")
	if err != nil || !strings.Contains(out, "deficient") || !strings.Contains(out, "K2") {
		t.Errorf("show: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "status", "--store", db, "--call", "ses-designation-review")
	if err != nil || !strings.Contains(out, "HS      accepted  SES-2025-000004  2") {
		t.Errorf("status: %v\n%s", err, out)
	}
	csvPath := filepath.Join(dir, "out.csv")
	if _, _, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "--kind", "position-report", "-o", csvPath); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	// Current rows only: DHS v2 (4 positions) and Treasury's corrected report (3).
	if lines := strings.Count(strings.TrimSpace(string(data)), "\n"); lines != 7 {
		t.Errorf("export has %d data lines, want 7:\n%s", lines, data)
	}
	if _, _, err := runCmd(t, "show", "--store", db, "SES-2099-999999"); err == nil {
		t.Error("show of an unknown receipt succeeded")
	}
}

// The official template, filled in, passes `intake check`; blank, it is
// refused with a finding.
func TestTemplateThenCheck(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.xlsx")
	if _, _, err := runCmd(t, "template", "ses-designation-review", "position-report", "-o", tpl); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "check", tpl, "--call", "ses-designation-review")
	if err == nil || !strings.Contains(out, "error") {
		t.Errorf("a blank template passed the check:\n%s", out)
	}

	f, err := excelize.OpenFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := parser.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var kind *parser.Kind
	for _, d := range defs {
		if d.ID == "ses-designation-review" {
			kind = d.Kind("position-report")
		}
	}
	sheet := f.GetSheetList()[0]
	for r, p := range parsertest.GoodPositions() {
		values := map[string]string{"agency_code": p.AgencyCode, "component": p.Component, "position_number": p.PositionNumber,
			"position_title": p.Title, "organization": p.Organization, "designation_2021": p.Designation2021,
			"noncareer_majority": p.NoncareerMajority, "current_designation": p.CurrentDesignation,
			"redesignation_date": p.RedesignationDate, "reversion_status": p.ReversionStatus, "incumbent_type": p.IncumbentType, "notes": p.Notes}
		for c, col := range kind.Columns {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
			if err := f.SetCellStr(sheet, cell, values[col.Key]); err != nil {
				t.Fatal(err)
			}
		}
	}
	filled := filepath.Join(dir, "filled.xlsx")
	if err := f.SaveAs(filled); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, "check", filled)
	if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 5 position-report") {
		t.Errorf("filled template: %v\n%s", err, out)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pwFile := write("pw", "from-file\n")
	t.Setenv("INTAKE_SMTP_PASSWORD", "from-env")
	c, err := LoadConfig(write("ok.yaml", `from: allocation-management@opm.gov
imap: {addr: "imap.example.gov:993", username: bot, password_file: `+pwFile+`}
smtp: {host: smtp.example.gov, username: bot}
agencies: [{code: HS, senders: ["@dhs.gov"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.Password != "from-file" || c.SMTP.Password != "from-env" || c.SMTP.Port != 587 || c.IMAP.TLS != "tls" {
		t.Errorf("config %+v", c)
	}
	for name, body := range map[string]string{
		"unknown key":    "from: a@b.gov\nimap: {adress: x}\n",
		"bad tls":        "from: a@b.gov\nimap: {tls: maybe}\n",
		"bad sender":     "from: a@b.gov\nagencies: [{code: HS, senders: [dhs.gov]}]\n",
		"dmarc off":      "from: a@b.gov\nauth: {require_dmarc: false}\n",
		"authserv no id": "from: a@b.gov\nauth: {mode: authserv}\n",
		"auth mode":      "from: a@b.gov\nauth: {mode: off}\n",
		"no from":        "imap: {addr: x:1}\n",
		"dup agencies":   "from: a@b.gov\nagencies: [{code: HS, senders: ['@a.gov']}, {code: HS, senders: ['@b.gov']}]\n",
	} {
		if _, err := LoadConfig(write(strings.ReplaceAll(name, " ", "_")+".yaml", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// demoHintsRun runs the demo's "Try:" hints as printed: each names this
// binary as a shell reaches it (issue 17: they named a binary not on PATH).
func demoHintsRun(t *testing.T, out string) {
	t.Helper()
	self := selfCommand()
	if self != "intake" && self != "go run ./cmd/intake" {
		if _, err := os.Stat(self); err != nil {
			t.Errorf("the hints name %q: %v", self, err)
		}
	}
	if self == "go run ./cmd/intake" {
		if _, err := os.Stat("../../cmd/intake/main.go"); err != nil {
			t.Errorf("the hints say %q, but the module root has no cmd/intake: %v", self, err)
		}
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "Try:"))
		rest, ok := strings.CutPrefix(line, self+" ")
		if !ok {
			continue
		}
		n++
		if _, errOut, err := runCmd(t, strings.Fields(rest)...); err != nil {
			t.Errorf("hint %q: %v\n%s", line, err, errOut)
		}
	}
	if n != 4 {
		t.Errorf("%d hints naming %q, want 4:\n%s", n, self, out)
	}
}
