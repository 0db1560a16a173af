package email

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// dedupeFields are the header fields that identify a message's content.
// Trace fields (Received, Delivered-To, X-Original-To, Return-Path,
// Authentication-Results, ...) are left out: they differ between two
// deliveries of the same mail.
var dedupeFields = []string{"Message-Id", "From", "Sender", "To", "Cc", "Date", "Subject", "In-Reply-To", "Content-Type"}

// DedupeKey returns a content hash (hex SHA-256) of raw that is the same for
// one mail delivered twice (to two addresses of the bot: different trace
// headers, same content) and different for different mails, even when they
// share a Message-ID or have none. It hashes the normalised identifying
// header fields and the body bytes (line endings and trailing white space
// normalised). Input without a readable header is hashed whole.
func DedupeKey(raw []byte) string {
	hdr, body, _ := splitHeader(raw)
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	sum := sha256.New()
	if th.Len() == 0 {
		sum.Write([]byte("raw\x00"))
		writeNormalised(sum, raw)
		return hex.EncodeToString(sum.Sum(nil))
	}
	sum.Write([]byte("email-v1\x00"))
	for _, k := range dedupeFields {
		for _, v := range th.Values(k) {
			v = strings.Join(strings.Fields(v), " ")
			if k == "Message-Id" {
				v = strings.Trim(v, "<>")
			}
			sum.Write([]byte(strings.ToLower(k)))
			sum.Write([]byte{':'})
			sum.Write([]byte(v))
			sum.Write([]byte{0})
		}
	}
	sum.Write([]byte{0})
	writeNormalised(sum, body)
	return hex.EncodeToString(sum.Sum(nil))
}

// writeNormalised writes b with CRLF turned into LF and the white space at
// its end dropped (relays and stores sometimes change both), without
// copying b.
func writeNormalised(w io.Writer, b []byte) {
	bw := bufio.NewWriterSize(w, 64<<10)
	b = bytes.TrimRight(b, " \t\r\n")
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			bw.Write(b)
			break
		}
		bw.Write(b[:i])
		bw.WriteByte('\n')
		b = b[i+2:]
	}
	bw.Flush()
}
