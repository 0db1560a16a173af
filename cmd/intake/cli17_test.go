package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"intake/internal/testenv"
	"intake/store"
)

// help and -h print to stdout and succeed; `version` names the build
// (issue 17: help went to stderr and -h exited 2).
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "status"}, {"status", "-h"}, {"list", "--help"}, {"question", "-h"}} {
		out, errOut, err := runCmd(t, args...)
		if err != nil || !strings.Contains(out, "usage: intake") || errOut != "" {
			t.Errorf("%v: err %v, stdout %q, stderr %q", args, err, out, errOut)
		}
	}
	for _, args := range [][]string{{}, {"nosuch"}, {"help", "nosuch"}, {"status", "--nosuch"}} {
		if _, _, err := runCmd(t, args...); !errors.Is(err, errUsage) && (err == nil || !strings.Contains(err.Error(), "flag")) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := runCmd(t, args...)
		if err != nil || !strings.HasPrefix(out, "intake ") || !strings.Contains(out, "go1.") {
			t.Errorf("%v: %v %q", args, err, out)
		}
	}
}

// An unknown call, kind, state, status, period or agency is an error (a
// non-zero exit), never an empty answer.
func TestUnknownNamesFail(t *testing.T) {
	f := newStatusFixture(t)
	for _, args := range [][]string{
		{"status", "--call", "nope"},
		{"status", "--period", "2025-W12", "--call", "ses-designation-review"},
		{"status", "--agency", "zzz"},
		{"list", "--call", "nope"},
		{"list", "--state", "acepted"},
		{"list", "--agency", "Narnia"},
		{"list", "--messages", "--status", "spam"},
		{"list", "extra"},
		{"export", "--call", "nope", "-o", filepath.Join(t.TempDir(), "x.csv")},
		{"export", "--call", "ses-designation-review", "--kind", "nope", "-o", filepath.Join(t.TempDir(), "x.csv")},
		{"export", "--call", "ses-designation-review", "--format", "pdf"},
		{"question", "answer", "999", "--note", "x"},
	} {
		if _, _, err := runCmd(t, append(args, "--config", f.cfgPath)...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

// The agency filter takes a part of the code, name or mail domain, or the
// initials; lists page with --limit and --offset and say the total;
// state=accepted is every accepted version; a version replaced in part
// says so.
func TestListFilterAndPages(t *testing.T) {
	f := newStatusFixture(t)
	list := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCmd(t, append([]string{"list", "--config", f.cfgPath}, args...)...)
		if err != nil {
			t.Fatalf("list %v: %v %s", args, err, errOut)
		}
		return out
	}
	for _, q := range []string{"DHS", "homeland", "hs", "dhs.gov"} {
		out := list("--agency", q)
		if strings.Count(out, "SES-2025-") != 2 || strings.Contains(out, " DJ ") || !strings.Contains(out, "Shown 1-2 of 2.") {
			t.Errorf("--agency %s:\n%s", q, out)
		}
	}
	out := list("--limit", "2")
	if strings.Count(out, "SES-2025-") != 2 || !strings.Contains(out, "Shown 1-2 of 5; the next: --offset 2.") {
		t.Errorf("--limit 2:\n%s", out)
	}
	out = list("--limit", "2", "--offset", "4")
	if strings.Count(out, "SES-2025-") != 1 || !strings.Contains(out, "Shown 5-5 of 5.") {
		t.Errorf("--offset 4:\n%s", out)
	}
	out = list("--state", "accepted")
	if strings.Count(out, "SES-2025-") != 3 || !strings.Contains(out, "superseded in part") || strings.Contains(out, "deficient") {
		t.Errorf("--state accepted:\n%s", out)
	}
	show, _, err := runCmd(t, "show", "--config", f.cfgPath, "SES-2025-000002")
	if err != nil || !strings.Contains(show, "State:     superseded in part, version 1") || !strings.Contains(show, "Records:   1 position-report, 1 retention-request") {
		t.Errorf("show: %v\n%s", err, show)
	}
}

// Every line the staff commands print fits 100 columns; show has the
// full text, wrapped.
func TestLinesFit100Columns(t *testing.T) {
	f := newStatusFixture(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "blank.xlsx")
	if _, _, err := runCmd(t, "template", "ses-designation-review", "-o", tpl); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, args := range [][]string{
		{"status", "--config", f.cfgPath},
		{"list", "--config", f.cfgPath},
		{"list", "--messages", "--config", f.cfgPath},
		{"show", "SES-2025-000003", "--config", f.cfgPath},
		{"calls"},
		{"check", tpl},
		{"question", "list", "--all", "--config", f.cfgPath},
		{"help"},
	} {
		out, _, _ := runCmd(t, args...)
		if out == "" {
			t.Errorf("%v printed nothing", args)
		}
		all.WriteString(out)
		for _, line := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(line); n > maxWidth {
				t.Errorf("%v: a line of %d columns:\n%s", args, n, line)
			}
		}
	}
	// show gives the whole finding, wrapped.
	show, _, _ := runCmd(t, "show", "SES-2025-000003", "--config", f.cfgPath)
	if got := strings.Count(strings.Join(strings.Fields(show), " "), "The position number is missing."); got != 8 {
		t.Errorf("show has %d of the 8 sentences of the finding:\n%s", got, show)
	}
}

// An XLSX export to a terminal is refused (binary output), and written
// when standard output is a file.
func TestExportXLSXRefusesTerminal(t *testing.T) {
	f := newStatusFixture(t)
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal (/dev/ptmx): "+err.Error())
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errOut bytes.Buffer
	err = run(ctx, []string{"export", "--config", f.cfgPath, "--call", "ses-designation-review", "--format", "xlsx"}, tty, &errOut)
	if err == nil || !strings.Contains(err.Error(), "binary") {
		t.Errorf("XLSX to a terminal: %v", err)
	}
	file, err := os.Create(filepath.Join(t.TempDir(), "out.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := run(ctx, []string{"export", "--config", f.cfgPath, "--call", "ses-designation-review", "--format", "xlsx"}, file, &errOut); err != nil {
		t.Errorf("XLSX to a file: %v %s", err, errOut.String())
	}
	if fi, _ := file.Stat(); fi.Size() == 0 {
		t.Error("nothing written to the file")
	}
}

// Staff read the open questions and mark one answered with a note; the
// note names the user.
func TestQuestionCommands(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	st, err := store.Open(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := st.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 99, SHA256: "q", Raw: []byte("x"), ReceivedAt: f.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Complete(ctx, store.Completion{Message: id, Status: store.StatusQuestion, Agency: "HS", From: "chco@dhs.gov", Now: f.now,
		Question: &store.NewQuestion{Subject: "Vacant positions?", Text: "Does the SES review include vacant positions?\n"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ids := strconv.FormatInt(id, 10)
	out, _, err := runCmd(t, "question", "list", "--config", f.cfgPath)
	if err != nil || !strings.Contains(out, "Vacant positions?") || !strings.Contains(out, "open") || !strings.Contains(out, "Shown 1-1 of 1.") {
		t.Errorf("question list: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "question", "show", ids, "--config", f.cfgPath)
	if err != nil || !strings.Contains(out, "Does the SES review include vacant positions?") {
		t.Errorf("question show: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "question", "answer", ids, "--note", "Yes: vacant positions are reported too.", "--config", f.cfgPath); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runCmd(t, "question", "list", "--config", f.cfgPath)
	if !strings.Contains(out, "None.") {
		t.Errorf("an answered question is still open:\n%s", out)
	}
	out, _, _ = runCmd(t, "question", "show", ids, "--config", f.cfgPath)
	if !strings.Contains(out, "answered by "+osUser()) || !strings.Contains(out, osUser()+": Yes: vacant positions are reported too.") {
		t.Errorf("question show after the answer:\n%s", out)
	}
	if _, _, err := runCmd(t, "question", "answer", ids, "--config", f.cfgPath); err == nil || !strings.Contains(err.Error(), "answered already") {
		t.Errorf("answered twice: %v", err)
	}
}
