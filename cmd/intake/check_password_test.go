package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser/parsertest"
)

// `intake check FILE.xlsx --password-file F` opens a password-protected
// workbook offline and checks it like any other, naming the file by the
// hash of the encrypted file as received; without the password, or with a
// wrong one, it says so. The password is never printed.
func TestCheck_passwordFile(t *testing.T) {
	dir := t.TempDir()
	const password = "S3cret-for-check"
	enc := parsertest.Encrypt(t, parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions()), password)
	xlsx := filepath.Join(dir, "report.xlsx")
	writeTestFile(t, xlsx, string(enc))
	pw := filepath.Join(dir, "pw")
	writeTestFile(t, pw, password+"\n")
	wrong := filepath.Join(dir, "wrong")
	writeTestFile(t, wrong, "not-it\n")
	sum := sha256.Sum256(enc)

	out, errOut, err := runCmd(t, "check", xlsx, "--call", "ses-designation-review", "--password-file", pw)
	if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("check with the password: %v\n%s%s", err, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", xlsx, "--call", "ses-designation-review"}, "no password for it"},
		{[]string{"check", xlsx, "--call", "ses-designation-review", "--password-file", wrong}, "this mailbox has for it"},
		{[]string{"check", xlsx, "--password-file", wrong}, "this mailbox has for it"},
	} {
		out, errOut, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%v: %v, want a failure saying %q\n%s%s", c.args, err, c.want, out, errOut)
		}
	}
	for _, args := range [][]string{{"check", xlsx, "--password-file", pw}, {"check", xlsx, "--password-file", wrong}} {
		out, errOut, _ := runCmd(t, args...)
		if strings.Contains(out+errOut, password) || strings.Contains(out+errOut, "not-it") {
			t.Errorf("%v printed the password", args)
		}
	}
	if _, _, err := runCmd(t, "check", xlsx, "--password-file", pw, "--annotate", filepath.Join(dir, "a.xlsx")); err == nil {
		t.Error("an annotated (decrypted) copy of an encrypted workbook was written")
	}
}

// The official template, filled in by openpyxl and encrypted by excelize
// (SaveAs with a password, as Excel's "Encrypt with Password" does), is a
// real encrypted workbook by Debian's msoffcrypto-tool, and `intake check
// --password-file` accepts it.
func TestCheck_filledTemplateEncrypted(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		testenv.Missing(t, "openpyxl for /usr/bin/python3 (Debian package python3-openpyxl)")
	}
	tool := testenv.LookPath(t, "msoffcrypto-tool", "Debian package python3-msoffcrypto-tool")
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.xlsx")
	if _, _, err := runCmd(t, "template", "ses-designation-review", "position-report", "-o", tpl); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "fill.py")
	writeTestFile(t, script, fillSES)
	filled := filepath.Join(dir, "filled.xlsx")
	program(t, dir, py, script, tpl, filled)
	const password = "Agency-Standing-Secret-2025"
	f, err := excelize.OpenFile(filled)
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "encrypted.xlsx")
	if err := f.SaveAs(enc, excelize.Options{Password: password}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(tool, "-p", password, enc, filepath.Join(dir, "proof.xlsx")).CombinedOutput(); err != nil {
		t.Fatalf("msoffcrypto-tool does not decrypt it: %v\n%s", err, out)
	}
	pw := filepath.Join(dir, "pw")
	writeTestFile(t, pw, password+"\n")
	out, errOut, err := runCmd(t, "check", enc, "--password-file", pw)
	if err != nil || !strings.Contains(out, "No problems found") || !strings.Contains(out, "Records: 2 position-report") {
		t.Fatalf("encrypted filled template: %v\n%s%s", err, out, errOut)
	}
}
