package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/parser/parsertest"
)

// `intake check FILE --annotate OUT` writes the annotated copy a
// deficiency notice would attach (issue 13), readable by its owner only.
func TestCheckAnnotate(t *testing.T) {
	dir := t.TempDir()
	pos := parsertest.GoodPositions()
	pos[1].CurrentDesignation = "Career Reservd"
	in := filepath.Join(dir, "dhs.xlsx")
	if err := os.WriteFile(in, parsertest.SESWorkbook(t, pos, parsertest.GoodRetentions()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dhs - issues.xlsx")
	stdout, _, err := runCmd(t, "check", in, "--annotate", out)
	if err == nil || !strings.Contains(stdout, "Annotated copy: "+out) {
		t.Fatalf("check --annotate: %v\n%s", err, stdout)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the copy is %v, want 0600", st.Mode().Perm())
	}
	f := openWorkbook(t, out)
	if !strings.Contains(strings.Join(f.GetSheetList(), ","), "Issues") {
		t.Errorf("sheets %v", f.GetSheetList())
	}
	var n int
	for _, s := range f.GetSheetList() {
		cs, _ := f.GetComments(s)
		n += len(cs)
	}
	if n == 0 {
		t.Error("the copy has no comments")
	}
	if _, _, err := runCmd(t, "check", in, in, "--annotate", out); err == nil {
		t.Error("--annotate took two workbooks")
	}
}

func openWorkbook(t *testing.T, path string) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
