package main

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

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
