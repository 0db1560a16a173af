package sheet_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/xuri/excelize/v2"

	"intake/internal/testenv"
	"intake/parser/parsertest"
	"intake/parser/sheet"
)

// The encrypted workbooks of the shared corpus with their known passwords
// (SOURCES.md): each opens with its password, through the same reader as
// any workbook, and gives what excelize reads from the decrypted package;
// a wrong password is ErrWrongPassword and none is ErrEncrypted. Files
// Excel encrypted with its own default password open with none.
func TestDecrypt_corpus(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	type enc struct {
		file, password string
		noPassword     bool // Excel's default password: opens without one
		wrongToo       bool // also try no password and a wrong one (each try hashes 100,000 times)
	}
	cases := []enc{
		{"excelize/encryptAES.xlsx", "password", false, true},
		{"excelize/encryptSHA1.xlsx", "password", false, false},
		{"excelize/encryptSHA512.xlsx", "password", false, false},
		{"msoffcrypto-tool/inputs/example_password.xlsx", "Password1234_", false, true},
		{"poi/spreadsheet/protected_passtika.xlsx", "tika", false, true},
		{"poi/poifs/protected_sha512.xlsx", "this is a test", false, false},
		{"poi/poifs/protect.xlsx", "", true, false},
		{"poi/spreadsheet/58616.xlsx", "", true, false},
		{"exceldatareader/TestExcel_2040.xlsx", "", true, false},
		{"exceldatareader/Test_git_issue289.xlsx", "", true, false},
	}
	for _, sub := range []string{"exceldatareader", "exceldatareader/strict"} {
		for _, n := range []string{"agile_AES128_MD5_CBC", "agile_AES128_SHA1_CBC", "agile_AES128_SHA384_CBC", "agile_AES128_SHA512_CBC",
			"agile_AES256_SHA512_CBC", "standard_AES128_SHA1_ECB", "standard_AES192_SHA1_ECB", "standard_AES256_SHA1_ECB"} {
			cases = append(cases, enc{sub + "/" + n + "_pwd_password.xlsx", "password", false, n == "standard_AES128_SHA1_ECB"})
		}
	}
	lim := sheet.DefaultLimits()
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !sheet.Encrypted(data) {
				t.Fatal("not recognised as encrypted")
			}
			plain, err := sheet.Decrypt(data, c.password, lim)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			w, err := sheet.Open(plain, lim)
			if err != nil {
				t.Fatalf("Open of the decrypted package: %v", err)
			}
			got := readAll(w)
			w.Close()
			x, err := sheet.OpenExcelize(plain, lim)
			if err != nil {
				t.Fatalf("excelize on the decrypted package: %v", err)
			}
			want := readAll(x)
			x.Close()
			if !reflect.DeepEqual(got.sheets, want.sheets) || !reflect.DeepEqual(got.rows, want.rows) {
				t.Errorf("decrypted workbook reads differently from excelize's reading of it")
			}
			cells := 0
			for _, rs := range got.rows {
				for _, r := range rs {
					cells += len(r.Cells)
				}
			}
			if cells == 0 {
				t.Error("no cell read from the decrypted workbook")
			}
			if c.noPassword || !c.wrongToo {
				return
			}
			if _, err := sheet.Decrypt(data, "", lim); !errors.Is(err, sheet.ErrEncrypted) {
				t.Errorf("no password: %v, want ErrEncrypted", err)
			}
			if _, err := sheet.Decrypt(data, "not the password", lim); !errors.Is(err, sheet.ErrWrongPassword) {
				t.Errorf("wrong password: %v, want ErrWrongPassword", err)
			}
		})
	}
	// The corpus's decrypted copy of msoffcrypto-tool's example is the very
	// package Decrypt gives.
	in, _ := os.ReadFile(filepath.Join(dir, "msoffcrypto-tool/inputs/example_password.xlsx"))
	out, _ := os.ReadFile(filepath.Join(dir, "msoffcrypto-tool/outputs/example.xlsx"))
	if plain, err := sheet.Decrypt(in, "Password1234_", lim); err != nil || !bytes.Equal(plain, out) {
		t.Errorf("msoffcrypto-tool's example: decrypted %d bytes (%v), want its %d-byte output", len(plain), err, len(out))
	}
}

// Ciphers excelize does not implement are named, not mistaken for a
// wrong password; files whose password is unknown never open and never
// panic.
func TestDecrypt_unsupportedAndUnknown(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "corpus", "xlsx")
	lim := sheet.DefaultLimits()
	for _, sub := range []string{"exceldatareader", "exceldatareader/strict"} {
		for _, n := range []string{"agile_DES_MD5_CBC", "agile_DESede_SHA384_CBC", "agile_RC2_SHA1_CBC", "agile_AES192_SHA512_CBC"} {
			data, err := os.ReadFile(filepath.Join(dir, sub, n+"_pwd_password.xlsx"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sheet.Decrypt(data, "password", lim); !errors.Is(err, sheet.ErrCipherUnsupported) {
				t.Errorf("%s/%s: %v, want ErrCipherUnsupported", sub, n, err)
			}
		}
	}
	for _, f := range []string{"poi/poifs/60320-protected.xlsx", "poi/poifs/extenxls_pwd123.xlsx", "calamine/pass_protected.xlsx",
		"poi/spreadsheet/crash-9bf3cd4bd6f50a8a9339d363c2c7af14b536865c.xlsx"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sheet.OpenWithPassword(data, "guess", lim); err == nil {
			t.Errorf("%s opened with a guessed password", f)
		}
	}
}

// An agile-encrypted file asking for more password hashing than Office
// ever does is refused before any is done.
func TestDecrypt_spinCountBounded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "corpus", "xlsx", "excelize", "encryptSHA512.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`spinCount="100000"`))
	if i < 0 {
		t.Fatal("no spinCount in the file")
	}
	evil := bytes.Clone(data)
	copy(evil[i:], `spinCount="999999999"`[:len(`spinCount="100000"`)-1]+`"`)
	if _, err := sheet.Decrypt(evil, "password", sheet.DefaultLimits()); !errors.Is(err, sheet.ErrTooLarge) {
		t.Errorf("spinCount 999,999: %v, want ErrTooLarge", err)
	}
}

// A filled report encrypted here by excelize (SaveAs with a password),
// proven real by an independent decrypter (msoffcrypto-tool from Debian),
// reads with its password exactly as the plain report does.
func TestDecrypt_filledReportEncryptedByExcelize(t *testing.T) {
	tool := testenv.LookPath(t, "msoffcrypto-tool", "Debian package python3-msoffcrypto-tool")
	plain := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	const password = "Tr0ub4dor&3 perf-call"
	dir := t.TempDir()
	enc := filepath.Join(dir, "report-encrypted.xlsx")
	f, err := excelize.OpenReader(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(enc, excelize.Options{Password: password}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !sheet.Encrypted(data) {
		t.Fatal("excelize's encrypted file is not recognised as encrypted")
	}
	// The independent decrypter agrees that it is encrypted, and opens it.
	if out, err := exec.Command(tool, "-t", enc).CombinedOutput(); err != nil {
		t.Fatalf("msoffcrypto-tool -t: %v\n%s", err, out)
	}
	dec := filepath.Join(dir, "report-decrypted.xlsx")
	if out, err := exec.Command(tool, "-p", password, enc, dec).CombinedOutput(); err != nil {
		t.Fatalf("msoffcrypto-tool -p: %v\n%s", err, out)
	}
	theirs, err := os.ReadFile(dec)
	if err != nil {
		t.Fatal(err)
	}
	lim := sheet.DefaultLimits()
	ours, err := sheet.Decrypt(data, password, lim)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Errorf("our decryption (%d bytes) differs from msoffcrypto-tool's (%d bytes)", len(ours), len(theirs))
	}
	read := func(b []byte) *book {
		w, err := sheet.OpenWithPassword(b, password, lim)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		return readAll(w)
	}
	if got, want := read(data), read(plain); !reflect.DeepEqual(got.rows, want.rows) || len(want.rows) == 0 {
		t.Error("the decrypted report does not read as the plain one")
	}
	if _, err := sheet.Decrypt(data, password+"x", lim); !errors.Is(err, sheet.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
}

// BenchmarkDecrypt: opening a filled report encrypted as Excel does (agile,
// AES-256, SHA-512, 100,000 password-hashing rounds): the cost of one
// password try.
func BenchmarkDecrypt(b *testing.B) {
	enc := parsertest.Encrypt(b, parsertest.SESWorkbook(b, parsertest.GoodPositions(), parsertest.GoodRetentions()), "bench-password")
	lim := sheet.DefaultLimits()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sheet.Decrypt(enc, "bench-password", lim); err != nil {
			b.Fatal(err)
		}
	}
}
