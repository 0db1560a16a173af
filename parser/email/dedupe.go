package email

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
		sum.Write(normaliseBody(raw))
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
	sum.Write(normaliseBody(body))
	return hex.EncodeToString(sum.Sum(nil))
}

// normaliseBody turns CRLF into LF and drops trailing white space at the
// end, which relays and stores sometimes change.
func normaliseBody(b []byte) []byte {
	if bytes.Contains(b, []byte("\r\n")) {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	return bytes.TrimRight(b, " \t\r\n")
}
