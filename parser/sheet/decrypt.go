package sheet

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Errors of Decrypt, beside ErrEncrypted (a password is needed and none
// was given).
var (
	// ErrWrongPassword: the password given does not open the workbook.
	ErrWrongPassword = errors.New("wrong password for the encrypted workbook")
	// ErrCipherUnsupported: the workbook is encrypted with a cipher this
	// reader does not implement (DES, 3DES, RC2, AES-192).
	ErrCipherUnsupported = errors.New("workbook encrypted with an unsupported cipher")
)

// velvetSweatshop is the password Excel itself uses for a workbook
// encrypted without a user's password (a write-protected file, say); Excel
// opens such a file without asking, and so does Decrypt.
const velvetSweatshop = "VelvetSweatshop"

// Encrypted reports whether data is an encrypted OOXML workbook (an OLE
// file holding an EncryptedPackage stream).
func Encrypted(data []byte) bool { return errors.Is(Sniff(data), ErrEncrypted) }

// Decrypt returns the .xlsx package inside data, a workbook encrypted with
// a password by Excel ("Encrypt with Password"), LibreOffice ("Save with
// password") or any other program writing ECMA-376 agile or standard
// encryption (MS-OFFCRYPTO 2.3.4.10 and 2.3.4.5). Data that is not
// encrypted is returned as it is. Errors: ErrEncrypted when no password is
// given (and Excel's own default does not open it), ErrWrongPassword,
// ErrCipherUnsupported, ErrTooLarge, or another error for a corrupted
// file. The password is never part of an error.
//
// The decrypted package is no larger than data (the cipher keeps the
// size), so the limits that bound data bound it too. A password is right
// when the package it gives is a readable zip: excelize does not check the
// encryption's verifier, and a wrong key gives noise that is not one.
func Decrypt(data []byte, password string, lim Limits) ([]byte, error) {
	if !Encrypted(data) {
		return data, nil
	}
	if cipher := unsupportedCipher(data); cipher != "" {
		return nil, fmt.Errorf("%w: %s", ErrCipherUnsupported, cipher)
	}
	if n := spinCount(data); n > maxSpinCount {
		// Each try hashes the password this many times: a file asking
		// for billions would hold the worker for hours.
		return nil, fmt.Errorf("%w: the encryption asks for %d hash rounds (limit %d)", ErrTooLarge, n, maxSpinCount)
	}
	tries := []string{velvetSweatshop}
	if password != "" {
		tries = []string{password, velvetSweatshop}
	}
	var lastErr error
	for _, pw := range tries {
		out, err := decryptWith(data, pw)
		if err != nil {
			lastErr = err
			continue
		}
		if out = trimZip(out); isZip(out) {
			if lim.MaxTotalBytes > 0 && int64(len(out)) > lim.MaxTotalBytes {
				return nil, fmt.Errorf("%w: decrypted package of %d bytes", ErrTooLarge, len(out))
			}
			return out, nil
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("decrypt: %w", lastErr)
	}
	if password == "" {
		return nil, ErrEncrypted
	}
	return nil, ErrWrongPassword
}

// decryptWith runs excelize's decrypter, which may panic on a malformed
// compound file: that is the file's fault, returned as an error.
func decryptWith(data []byte, pw string) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("corrupted encrypted workbook: %v", r)
		}
	}()
	out, err = excelize.Decrypt(data, &excelize.Options{Password: pw})
	if err != nil && strings.Contains(err.Error(), "unsupported") {
		return nil, fmt.Errorf("%w: %v", ErrCipherUnsupported, err)
	}
	return out, err
}

// trimZip cuts what follows a zip's end-of-central-directory record: the
// cipher's padding, which excelize leaves on the package.
func trimZip(b []byte) []byte {
	from := max(0, len(b)-(1<<16+22))
	i := bytes.LastIndex(b[from:], []byte("PK\x05\x06"))
	if i < 0 {
		return b
	}
	i += from
	if i+22 > len(b) {
		return b
	}
	end := i + 22 + (int(b[i+20]) | int(b[i+21])<<8)
	if end < len(b) {
		return b[:end]
	}
	return b
}

func isZip(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		return false
	}
	_, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	return err == nil
}

// maxSpinCount bounds the password hashing an agile-encrypted file may
// ask for: Office writes 100,000 rounds (about 0.2 s a try here).
const maxSpinCount = 500_000

var spinCountAttr = regexp.MustCompile(`spinCount="(\d{1,12})"`)

// spinCount is the largest spinCount an agile EncryptionInfo names, or 0.
func spinCount(data []byte) int64 {
	var most int64
	for _, m := range spinCountAttr.FindAllSubmatch(data[:min(len(data), 64<<10)], -1) {
		if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil && n > most {
			most = n
		}
	}
	return most
}

// keyData is the agile EncryptionInfo's description of the cipher of the
// package (MS-OFFCRYPTO 2.3.4.10: <keyData ... keyBits= cipherAlgorithm=>).
var keyData = regexp.MustCompile(`<keyData\b[^>]*>`)
var attr = regexp.MustCompile(`(\w+)="([^"]*)"`)

// unsupportedCipher names the cipher of an agile-encrypted workbook when
// excelize cannot decrypt it (it implements AES with 128- and 256-bit
// keys), or returns "". Standard encryption is always AES and is left to
// excelize.
func unsupportedCipher(data []byte) string {
	// The EncryptionInfo stream is small and near the start; its XML is
	// plain ASCII inside the compound file.
	head := data[:min(len(data), 64<<10)]
	m := keyData.Find(head)
	if m == nil {
		return ""
	}
	var alg, bits string
	for _, a := range attr.FindAllSubmatch(m, -1) {
		switch string(a[1]) {
		case "cipherAlgorithm":
			alg = string(a[2])
		case "keyBits":
			bits = string(a[2])
		}
	}
	if alg == "AES" && (bits == "128" || bits == "256") {
		return ""
	}
	return alg + "-" + bits
}

// OpenWithPassword opens a workbook that may be encrypted: Decrypt, then
// Open. Its errors are Decrypt's and Open's.
func OpenWithPassword(data []byte, password string, lim Limits) (Workbook, error) {
	plain, err := Decrypt(data, password, lim)
	if err != nil {
		return nil, err
	}
	return Open(plain, lim)
}
