package testenv

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// MailEntity is a MIME entity as a mail client writes the content of a
// message: a short text and one attachment, base64.
func MailEntity(text, name, contentType string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=_intake_test_b1\"\r\n\r\n")
	b.WriteString("--=_intake_test_b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	b.WriteString("--=_intake_test_b1\r\nContent-Type: " + contentType + "; name=\"" + name + "\"\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--=_intake_test_b1--\r\n")
	return b.Bytes()
}

// OpenSSLSign signs a MIME entity with id's certificate and key as a mail
// client does, with the openssl program: multipart/signed (clear), or
// with opaque an application/pkcs7-mime signed-data entity.
func OpenSSLSign(t testing.TB, entity []byte, id *Identity, opaque bool) []byte {
	t.Helper()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, cert, id.CertPEM)
	writeFile(t, key, id.KeyPEM)
	args := []string{"smime", "-sign", "-signer", cert, "-inkey", key, "-binary"}
	if opaque {
		args = append(args, "-nodetach")
	}
	return openssl(t, dir, entity, args...)
}

// OpenSSLEncrypt encrypts a MIME entity to the certificates (AES-256) with
// the openssl program: an application/pkcs7-mime enveloped-data entity.
func OpenSSLEncrypt(t testing.TB, entity []byte, to ...*Identity) []byte {
	t.Helper()
	dir := t.TempDir()
	args := []string{"smime", "-encrypt", "-aes256", "-binary"}
	var certs []string
	for i, id := range to {
		p := filepath.Join(dir, "recip"+string(rune('a'+i))+".pem")
		writeFile(t, p, id.CertPEM)
		certs = append(certs, p)
	}
	return openssl(t, dir, entity, append(args, certs...)...)
}

// OpenSSLDecrypt decrypts a whole message encrypted to id with the openssl
// program (an independent decrypter), returning the content entity.
func OpenSSLDecrypt(t testing.TB, msg []byte, id *Identity) []byte {
	t.Helper()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, cert, id.CertPEM)
	writeFile(t, key, id.KeyPEM)
	return openssl(t, dir, msg, "smime", "-decrypt", "-recip", cert, "-inkey", key)
}

// WithHeader puts an entity (as openssl writes it: MIME-Version and
// Content-* fields, then the body) under a message's routing fields.
func WithHeader(fields string, entity []byte) []byte {
	return append([]byte(strings.TrimRight(fields, "\r\n")+"\r\n"), entity...)
}

func openssl(t testing.TB, dir string, in []byte, args ...string) []byte {
	t.Helper()
	prog := LookPath(t, "openssl", "Debian package openssl")
	inPath := filepath.Join(dir, "in.eml")
	writeFile(t, inPath, in)
	cmd := exec.Command(prog, append([]string{args[0], "-in", inPath}, args[1:]...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, errOut.String())
	}
	// openssl writes LF line ends on its own lines; mail travels CRLF.
	return bytes.ReplaceAll(bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
