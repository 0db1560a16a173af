package email

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smallstep/pkcs7"
)

// SMIMEKeys are what S/MIME needs: the trust anchors signatures must chain
// to (for federal senders, the Federal PKI roots), and the mailbox's own
// certificate and private key (RSA, as the PKCS #7 library requires) to
// decrypt mail encrypted to it. Any part may be nil: without Roots no
// signature counts, without Cert and Key no mail is decrypted.
type SMIMEKeys struct {
	Roots *x509.CertPool
	Cert  *x509.Certificate
	Key   crypto.PrivateKey
	// Now is when certificates must be valid (the time the mail was
	// received); parser has no clock.
	Now time.Time
}

// SMIME is what the S/MIME layers of a message held (RFC 8551).
type SMIME struct {
	Encrypted bool // the message was enveloped-data
	Decrypted bool // ... and was decrypted with the mailbox's key
	Signed    bool // it carried a signature (multipart/signed or signed-data)
	// Verified: the signature is valid over the content, and its signer's
	// certificate chains to a trust anchor and was valid at Now, for
	// e-mail protection.
	Verified bool
	// Signer is the signer's certificate, and Addresses the e-mail
	// addresses it names (lower case): a verified signature authenticates
	// these addresses.
	Signer    *x509.Certificate
	Addresses []string
	// Problem says why the signature does not count, or why the mail
	// could not be decrypted ("" when neither).
	Problem string
}

// SignedBy reports whether a verified signature names addr, the From
// address: S/MIME authentication of the sender (RFC 8551 section 3.1.1:
// the From address must match one in the signer's certificate).
func (s SMIME) SignedBy(addr string) bool {
	return s.Verified && slices.Contains(s.Addresses, strings.ToLower(strings.TrimSpace(addr)))
}

// maxSMIMEDepth bounds nested layers (sign, then encrypt, is two).
const maxSMIMEDepth = 4

// OpenSMIME takes off the S/MIME layers of raw: it decrypts enveloped-data
// addressed to keys.Cert, verifies signatures (clear, multipart/signed, or
// opaque signed-data), and returns the message to parse (for clear-signed
// or plain mail raw itself; otherwise the outer header fields with the
// innermost content in place of the body) and what it found. Mail that is
// not S/MIME comes back as it is, with a zero SMIME. A problem (a bad
// signature, mail encrypted to someone else) is in SMIME.Problem, never an
// error: the caller decides. raw is never changed.
func OpenSMIME(raw []byte, keys SMIMEKeys) ([]byte, SMIME) {
	var s SMIME
	out := raw
	for depth := 0; depth < maxSMIMEDepth; depth++ {
		hdr, body, _ := splitHeader(out)
		mt, params, err := mime.ParseMediaType(headerValue(hdr, "Content-Type"))
		if err != nil {
			return out, s
		}
		mt = strings.ToLower(mt)
		switch {
		case mt == "multipart/signed" && isPKCS7Signature(params["protocol"]):
			s.Signed = true
			content, sig, err := splitSigned(body, params["boundary"])
			if err != nil {
				s.Problem = "signed message: " + err.Error()
				return out, s
			}
			p7, err := pkcs7.Parse(sig)
			if err != nil {
				s.Problem = "signature unreadable: " + err.Error()
				return out, s
			}
			p7.Content = content
			s.verify(p7, keys)
			// The first part is the content: go on in case it is itself
			// wrapped (a signed, then encrypted, then signed message).
			inner := rewrap(hdr, content)
			if next, _ := OpenSMIMEInnerKind(inner); next == "" {
				return out, s // clear-signed: parse as it is
			}
			out = inner
		case mt == "application/pkcs7-mime" || mt == "application/x-pkcs7-mime":
			der, err := decodeBody(hdr, body)
			if err != nil {
				s.Problem = "S/MIME body unreadable: " + err.Error()
				return out, s
			}
			p7, err := pkcs7.Parse(der)
			if err != nil {
				s.Problem = "S/MIME body unreadable: " + err.Error()
				return out, s
			}
			kind := strings.ToLower(params["smime-type"])
			if kind == "enveloped-data" || (kind == "" && p7.Content == nil) {
				s.Encrypted = true
				if keys.Cert == nil || keys.Key == nil {
					s.Problem = "encrypted to a certificate, and this mailbox has no key configured"
					return out, s
				}
				plain, err := decryptSafe(p7, keys)
				if err != nil {
					s.Problem = "encrypted, and not to this mailbox's certificate (or with a cipher not supported): " + err.Error()
					return out, s
				}
				s.Decrypted = true
				out = rewrap(hdr, plain)
				continue
			}
			// signed-data, opaque: the content is inside.
			s.Signed = true
			s.verify(p7, keys)
			out = rewrap(hdr, p7.Content)
		default:
			return out, s
		}
	}
	return out, s
}

// OpenSMIMEInnerKind says what S/MIME layer raw starts with: "signed",
// "enveloped" or "".
func OpenSMIMEInnerKind(raw []byte) (string, error) {
	hdr, _, _ := splitHeader(raw)
	mt, params, err := mime.ParseMediaType(headerValue(hdr, "Content-Type"))
	if err != nil {
		return "", err
	}
	switch strings.ToLower(mt) {
	case "multipart/signed":
		if isPKCS7Signature(params["protocol"]) {
			return "signed", nil
		}
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		if strings.EqualFold(params["smime-type"], "signed-data") {
			return "signed", nil
		}
		return "enveloped", nil
	}
	return "", nil
}

func isPKCS7Signature(protocol string) bool {
	p := strings.ToLower(protocol)
	return p == "application/pkcs7-signature" || p == "application/x-pkcs7-signature"
}

// verify checks p7's signature and chain, and records the signer.
func (s *SMIME) verify(p7 *pkcs7.PKCS7, keys SMIMEKeys) {
	signer := p7.GetOnlySigner()
	if signer == nil {
		s.Problem = "signature without exactly one signer"
		return
	}
	s.Signer = signer
	s.Addresses = certAddresses(signer)
	if keys.Roots == nil {
		s.Problem = "no S/MIME trust anchors are configured"
		return
	}
	now := keys.Now
	if now.IsZero() {
		s.Problem = "no time to check the certificate against"
		return
	}
	if err := p7.VerifyWithChainAtTime(keys.Roots, now); err != nil {
		s.Problem = "signature not valid: " + err.Error()
		return
	}
	// The library checks the chain; e-mail protection is what this
	// certificate must be for (RFC 8550 section 4.4.4), when it says.
	if len(signer.ExtKeyUsage) > 0 && !slices.Contains(signer.ExtKeyUsage, x509.ExtKeyUsageEmailProtection) && !slices.Contains(signer.ExtKeyUsage, x509.ExtKeyUsageAny) {
		s.Problem = "the signer's certificate is not for e-mail protection"
		return
	}
	s.Verified = true
	s.Problem = ""
}

// oidEmailAddress is PKCS #9 emailAddress, which older certificates put in
// the subject instead of a subjectAltName rfc822Name.
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// certAddresses are the e-mail addresses a certificate names, lower case.
func certAddresses(c *x509.Certificate) []string {
	var out []string
	for _, a := range c.EmailAddresses {
		out = append(out, strings.ToLower(a))
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidEmailAddress) {
			if v, ok := n.Value.(string); ok {
				out = append(out, strings.ToLower(v))
			}
		}
	}
	return out
}

// decryptSafe decrypts, turning a panic of the library on hostile input
// into an error.
func decryptSafe(p7 *pkcs7.PKCS7, keys SMIMEKeys) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("malformed enveloped data: %v", r)
		}
	}()
	return p7.Decrypt(keys.Cert, keys.Key)
}

// splitSigned returns the first part of a multipart/signed body exactly as
// signed (its header and body, CRLF line ends, without the CRLF before the
// next boundary: RFC 1847 section 2.1) and the decoded signature.
func splitSigned(body []byte, boundary string) (content, sig []byte, err error) {
	if boundary == "" {
		return nil, nil, errors.New("no boundary")
	}
	body = crlf(body)
	delim := []byte("--" + boundary)
	i := bytes.Index(body, delim)
	if i < 0 || (i > 0 && !bytes.HasSuffix(body[:i], []byte("\r\n"))) {
		return nil, nil, errors.New("first part not found")
	}
	rest := body[i+len(delim):]
	nl := bytes.Index(rest, []byte("\r\n"))
	if nl < 0 {
		return nil, nil, errors.New("first part not found")
	}
	rest = rest[nl+2:]
	end := bytes.Index(rest, append([]byte("\r\n"), delim...))
	if end < 0 {
		return nil, nil, errors.New("signature part not found")
	}
	content = rest[:end]
	rest = rest[end+2+len(delim):]
	nl = bytes.Index(rest, []byte("\r\n"))
	if nl < 0 {
		return nil, nil, errors.New("signature part not found")
	}
	rest = rest[nl+2:]
	stop := bytes.Index(rest, append([]byte("\r\n"), delim...))
	if stop < 0 {
		stop = len(rest)
	}
	shdr, sbody, _ := splitHeader(rest[:stop])
	sig, err = decodeBody(shdr, sbody)
	if err != nil {
		return nil, nil, fmt.Errorf("signature part: %w", err)
	}
	return content, sig, nil
}

// decodeBody undoes the Content-Transfer-Encoding of a part's body.
func decodeBody(hdr, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(headerValue(hdr, "Content-Transfer-Encoding"))) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, bytes.TrimRight(clean, "="))
		if err != nil {
			n, err = base64.RawStdEncoding.Decode(out, bytes.TrimRight(clean, "="))
		}
		return out[:n], err
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	default:
		return body, nil
	}
}

// rewrap puts entity (a MIME entity: its own Content-* fields, then its
// body) under the outer header's other fields: the message as its sender
// wrote it before signing or encrypting it (RFC 8551 section 3.1).
func rewrap(outerHdr, entity []byte) []byte {
	var b bytes.Buffer
	for _, f := range headerFields(outerHdr) {
		name := strings.ToLower(f.name)
		if strings.HasPrefix(name, "content-") || name == "mime-version" {
			continue
		}
		b.Write(f.raw)
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	b.Write(crlf(entity))
	return b.Bytes()
}

type headerField struct {
	name string
	raw  []byte // the field with its continuation lines, CRLF-ended
}

// headerFields splits a header block into its fields, continuation lines
// kept with their field.
func headerFields(hdr []byte) []headerField {
	var out []headerField
	for _, line := range bytes.SplitAfter(crlf(hdr), []byte("\r\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].raw = append(out[len(out)-1].raw, line...)
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		out = append(out, headerField{name: string(bytes.TrimSpace(name)), raw: slices.Clone(line)})
	}
	return out
}

// headerValue is the unfolded value of the first field called name.
func headerValue(hdr []byte, name string) string {
	for _, f := range headerFields(hdr) {
		if strings.EqualFold(f.name, name) {
			_, v, _ := bytes.Cut(f.raw, []byte(":"))
			return strings.Join(strings.Fields(string(v)), " ")
		}
	}
	return ""
}

// crlf makes every line end CRLF (a message stored with bare LF is signed
// over CRLF: RFC 8551 section 3.1.1).
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i := 0; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b[i])
	}
	return out
}

// encryptMu serialises EncryptSMIME: the PKCS #7 library takes the content
// cipher from a package variable (its default is DES), which is set for
// each call and read by that call only.
var encryptMu sync.Mutex

// EncryptSMIME encrypts a message built for sending (a reply) to the
// certificates given (RFC 8551 enveloped-data, AES-256-CBC, RSA key
// transport): the header fields that route and thread it (From, To,
// Subject, Date, Message-ID, In-Reply-To, References, Auto-Submitted...)
// stay outside, and the content (its Content-* fields and body) goes
// inside. Include the mailbox's own certificate to keep the sent copy
// readable.
func EncryptSMIME(raw []byte, to []*x509.Certificate) ([]byte, error) {
	if len(to) == 0 {
		return nil, errors.New("smime: encrypt: no recipient certificate")
	}
	hdr, body, _ := splitHeader(raw)
	var outer, inner bytes.Buffer
	for _, f := range headerFields(hdr) {
		name := strings.ToLower(f.name)
		switch {
		case strings.HasPrefix(name, "content-"):
			inner.Write(f.raw)
		case name == "mime-version":
		default:
			outer.Write(f.raw)
		}
	}
	inner.WriteString("\r\n")
	inner.Write(crlf(body))
	encryptMu.Lock()
	prev := pkcs7.ContentEncryptionAlgorithm
	pkcs7.ContentEncryptionAlgorithm = pkcs7.EncryptionAlgorithmAES256CBC
	der, err := pkcs7.Encrypt(inner.Bytes(), to)
	pkcs7.ContentEncryptionAlgorithm = prev
	encryptMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: %w", err)
	}
	outer.WriteString("MIME-Version: 1.0\r\n")
	outer.WriteString("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n")
	outer.WriteString("Content-Disposition: attachment; filename=\"smime.p7m\"\r\n")
	outer.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(der)
	for len(enc) > 76 {
		outer.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	outer.WriteString(enc + "\r\n")
	return outer.Bytes(), nil
}
