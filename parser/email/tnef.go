package email

import (
	"encoding/binary"
	"strings"
)

// TNEF (MS-OXTNEF) is how Exchange and Outlook send a message's own
// properties, as an application/ms-tnef attachment (winmail.dat). A read
// receipt sent so is ordinary mail on the outside, subject "Read: ...";
// its message class says what it is: REPORT.IPM.Note.IPNRN (read),
// REPORT.IPM.Note.IPNNRN (not read), REPORT.IPM.Note.NDR (not delivered).

const (
	tnefSignature    = 0x223E9F78 // MS-OXTNEF 2.1.3.1
	tnefLevelMessage = 0x01
	attMessageClass  = 0x00078008 // attribute ID (type 0x0007 string, id 0x8008)
)

// tnefClass returns the message class a TNEF attachment carries, or "".
// Only the attribute stream's framing is read (level, id, length,
// data, checksum); a damaged stream gives "".
func tnefClass(a Attachment) string {
	if a.ContentType != "application/ms-tnef" && !strings.EqualFold(a.Name, "winmail.dat") {
		return ""
	}
	b := a.Data
	if len(b) < 6 || binary.LittleEndian.Uint32(b) != tnefSignature {
		return ""
	}
	b = b[6:] // signature, legacy key
	for len(b) >= 9 {
		level, id, n := b[0], binary.LittleEndian.Uint32(b[1:5]), binary.LittleEndian.Uint32(b[5:9])
		if uint64(n)+11 > uint64(len(b)) {
			return ""
		}
		data := b[9 : 9+n]
		if level == tnefLevelMessage && id == attMessageClass {
			return strings.TrimRight(string(data), "\x00")
		}
		b = b[9+n+2:]
	}
	return ""
}

// onlyTNEF reports attachments that are all TNEF (a read receipt's).
func onlyTNEF(atts []Attachment) bool {
	for _, a := range atts {
		if tnefClass(a) == "" {
			return false
		}
	}
	return true
}
