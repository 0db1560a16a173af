package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"intake/parser/sheet"
)

// Decrypted is what DecryptInputs made of the files of a submission.
type Decrypted struct {
	// Files are the files to check: an encrypted workbook that opened is
	// replaced by its decrypted package (same name); one that did not is
	// left out, and Findings says why.
	Files []Input
	// Findings: per encrypted workbook that did not open, why (no
	// password, a wrong one, a cipher not supported, a damaged file).
	Findings []Finding
	// Encrypted counts the encrypted workbooks among the files; Opened
	// those that opened.
	Encrypted, Opened int
	// NeedPassword: at least one encrypted workbook did not open for want
	// of a password (none given, or the one given is wrong).
	NeedPassword bool

	originals map[string]original // sha256 of a decrypted package -> the file as received
}

type original struct {
	sha256 string
	size   int64
}

// AsReceived makes the file results of sub (checked from d.Files) name
// each decrypted workbook by the file as received: its SHA-256 and size
// are the encrypted file's, the one stored and acknowledged.
func (d Decrypted) AsReceived(sub *Submission) {
	for i, f := range sub.Files {
		if o, ok := d.originals[f.SHA256]; ok {
			sub.Files[i].SHA256, sub.Files[i].Size = o.sha256, o.size
		}
	}
}

// Finding codes of DecryptInputs.
const (
	CodePasswordMissing   = "password-missing"
	CodePasswordWrong     = "password-wrong"
	CodeCipherUnsupported = "encryption-unsupported"
)

// DecryptInputs opens the password-protected workbooks among files (ECMA-376
// agile or standard encryption, as Excel's "Encrypt with Password" and
// LibreOffice's "Save with password" write it) with password, before they
// are checked like any other. Files that are not encrypted pass through as
// they are. The password appears in no finding and no error.
//
// The decrypted package exists only in memory, for the check: the caller
// keeps the file as received (encrypted), and hashes that.
func DecryptInputs(files []Input, password string, lim Limits) Decrypted {
	var d Decrypted
	slim := sheet.Limits{MaxTotalBytes: lim.MaxUnzippedBytes}
	for _, in := range files {
		data, encrypted, err := encryptedBytes(in, lim)
		if !encrypted {
			d.Files = append(d.Files, in)
			continue
		}
		d.Encrypted++
		plain := data
		if err == nil {
			plain, err = sheet.Decrypt(data, password, slim)
		}
		if err == nil {
			d.Opened++
			d.Files = append(d.Files, Input{Name: in.Name, Data: plain})
			if d.originals == nil {
				d.originals = map[string]original{}
			}
			d.originals[hexSHA256(plain)] = original{hexSHA256(data), int64(len(data))}
			continue
		}
		f := Finding{File: in.Name, Severity: SeverityError}
		switch {
		case errors.Is(err, sheet.ErrEncrypted):
			d.NeedPassword = true
			f.Code = CodePasswordMissing
			f.Message = "The workbook is encrypted with a password, and no password for it has reached this mailbox."
			f.Fix = "Keep the workbook encrypted. Send its password in a separate email to this address, with the receipt number in the subject, or ask OPM to record your agency's password. Never put the password in the email that carries the workbook."
		case errors.Is(err, sheet.ErrWrongPassword):
			d.NeedPassword = true
			f.Code = CodePasswordWrong
			f.Message = "The workbook is encrypted with a password, and the password this mailbox has for it does not open it."
			f.Fix = "Send the right password in a separate email to this address, with the receipt number in the subject. Never put the password in the email that carries the workbook."
		case errors.Is(err, sheet.ErrCipherUnsupported):
			f.Code = CodeCipherUnsupported
			f.Message = "The workbook is encrypted with a method this mailbox cannot open (" + cipherName(err) + ")."
			f.Fix = "In Excel use File > Info > Protect Workbook > Encrypt with Password (AES, Excel's default); in LibreOffice, File > Save As with \"Save with password\". Then send the file again."
		case errors.Is(err, sheet.ErrTooLarge):
			f.Code = "too-large"
			f.Message = "The encrypted workbook is larger, or asks for more work to open, than this mailbox allows."
			f.Fix = "Encrypt it again with Excel's or LibreOffice's default settings, and split the data over several emails if it is large."
		default:
			f.Code = "corrupted"
			f.Message = "The encrypted workbook is damaged and cannot be opened."
			f.Fix = "Open it in Excel, save it again (with its password), and send it again."
		}
		d.Findings = append(d.Findings, f)
	}
	return d
}

// oleMagic starts an OLE compound file, which an encrypted workbook is.
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// encryptedBytes reports whether in is an encrypted workbook and, if so,
// returns its bytes: a file on disk is read whole (decryption needs it),
// which MaxFileBytes bounds (sheet.ErrTooLarge past it).
func encryptedBytes(in Input, lim Limits) ([]byte, bool, error) {
	if in.Data != nil || in.File == nil {
		return in.Data, sheet.Encrypted(in.Data), nil
	}
	head := make([]byte, len(oleMagic))
	if n, _ := in.File.ReadAt(head, 0); n < len(head) || !bytes.Equal(head, oleMagic) {
		return nil, false, nil
	}
	if lim.MaxFileBytes > 0 && in.Size > lim.MaxFileBytes {
		return nil, true, fmt.Errorf("%w: %d bytes", sheet.ErrTooLarge, in.Size)
	}
	data := make([]byte, in.Size)
	if n, err := in.File.ReadAt(data, 0); int64(n) < in.Size {
		return nil, true, fmt.Errorf("read: %w", err)
	}
	if !sheet.Encrypted(data) {
		return nil, false, nil // an old .xls: the check says so
	}
	return data, true, nil
}

// cipherName is the cipher named in an ErrCipherUnsupported error.
func cipherName(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return "unknown"
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
