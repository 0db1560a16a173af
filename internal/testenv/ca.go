package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test, and a server
// certificate it signed for 127.0.0.1 and localhost: what a private CA
// named in imap.ca_file or smtp.ca_file gives.
type CA struct {
	Server          *tls.Config    // the server's TLS configuration (certificate and chain)
	Roots           *x509.CertPool // a pool holding only this CA
	CAPEM           []byte         // the CA certificate, PEM
	CertPEM, KeyPEM []byte         // the server certificate and its PKCS #8 key, PEM

	cert *x509.Certificate // the CA's own, to issue more (SMIME)
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA and a server certificate, valid from an hour ago for a
// day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "intake test CA"},
		// From 2020: the daemon's tests run on a clock set in 2025, and
		// S/MIME certificates are checked at the time mail arrived.
		NotBefore: smimeEpoch, NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &CA{
		Server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER, caDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12},
		Roots:  roots,
		CAPEM:  pemOf("CERTIFICATE", caDER), CertPEM: pemOf("CERTIFICATE", srvDER), KeyPEM: pemOf("PRIVATE KEY", keyDER),
		cert: ca, key: caKey,
	}
}

// WriteFiles writes ca.pem, cert.pem and key.pem into dir, for servers
// configured by file (Dovecot, Postfix) and for ca_file.
func (c *CA) WriteFiles(t testing.TB, dir string) {
	t.Helper()
	for name, data := range map[string][]byte{"ca.pem": c.CAPEM, "cert.pem": c.CertPEM, "key.pem": c.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Identity is an S/MIME certificate the test CA issued, with its key.
type Identity struct {
	Cert            *x509.Certificate
	Key             *rsa.PrivateKey
	CertPEM, KeyPEM []byte // the certificate, and its key (PKCS #8), PEM
}

// smimeEpoch starts the validity of the CA and of S/MIME certificates.
var smimeEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// SMIME issues an S/MIME certificate for addr (an RSA key, e-mail
// protection, the address as an rfc822Name), valid from 2020 until a day
// from now, as an agency's CAC or the mailbox's own certificate is.
func (c *CA) SMIME(t testing.TB, addr string) *Identity {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: addr},
		NotBefore: smimeEpoch, NotAfter: now.Add(24 * time.Hour),
		EmailAddresses: []string{addr},
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
}
