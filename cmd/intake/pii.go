package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"intake/parser/email"
)

// SMIMEConfig: S/MIME (README, "Sending personal data").
type SMIMEConfig struct {
	// TrustAnchors is a PEM file of the roots a signer's certificate must
	// chain to (for federal senders, the Federal PKI roots). Without it no
	// signature authenticates a sender.
	TrustAnchors string `yaml:"trust_anchors"`
	// CertFile and KeyFile are the mailbox's own certificate and RSA key
	// (PEM), to decrypt mail encrypted to it; the key file must be
	// readable by the daemon's user only.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// PIIConfig: how a password sent in a second mail is paired with its
// encrypted workbook.
type PIIConfig struct {
	// Window is how long a workbook waits for its password mail (default
	// 24h); a password mail of the same sender within it, or naming the
	// receipt, is paired with it.
	Window time.Duration `yaml:"window"`
}

func (c *Config) validatePII() error {
	var errs []error
	if c.PII.Window < 0 {
		errs = append(errs, fmt.Errorf("passwords.window: %s is negative", c.PII.Window))
	}
	if (c.SMIME.CertFile == "") != (c.SMIME.KeyFile == "") {
		errs = append(errs, errors.New("smime: cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

// resolveWorkbookPasswords reads each agency's workbook password from its
// file or the environment ($INTAKE_WORKBOOK_PASSWORD_<CODE>).
func (c *Config) resolveWorkbookPasswords() error {
	for i := range c.Agencies {
		a := &c.Agencies[i]
		if a.WorkbookPasswordFile != "" {
			pw, err := readPasswordFile(a.WorkbookPasswordFile)
			if err != nil {
				return fmt.Errorf("agencies[%d] (%s): workbook_password_file: %w", i, a.Code, err)
			}
			a.WorkbookPassword = pw
			continue
		}
		a.WorkbookPassword = os.Getenv("INTAKE_WORKBOOK_PASSWORD_" + strings.ToUpper(a.Code))
	}
	return nil
}

func (c *Config) passwordWindow() time.Duration {
	if c.PII.Window <= 0 {
		return 24 * time.Hour
	}
	return c.PII.Window
}

// smimeKeys loads the trust anchors and the mailbox's certificate and key.
// A key file others may read is refused: it opens every encrypted mail.
func (c SMIMEConfig) smimeKeys() (email.SMIMEKeys, error) {
	var k email.SMIMEKeys
	if c.TrustAnchors != "" {
		b, err := os.ReadFile(c.TrustAnchors)
		if err != nil {
			return k, fmt.Errorf("smime.trust_anchors: %w", err)
		}
		k.Roots = x509.NewCertPool()
		if !k.Roots.AppendCertsFromPEM(b) {
			return k, fmt.Errorf("smime.trust_anchors %s: no certificate found", c.TrustAnchors)
		}
	}
	if c.CertFile == "" {
		return k, nil
	}
	b, err := os.ReadFile(c.CertFile)
	if err != nil {
		return k, fmt.Errorf("smime.cert_file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return k, fmt.Errorf("smime.cert_file %s: no PEM certificate", c.CertFile)
	}
	if k.Cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		return k, fmt.Errorf("smime.cert_file %s: %w", c.CertFile, err)
	}
	fi, err := os.Stat(c.KeyFile)
	if err != nil {
		return k, fmt.Errorf("smime.key_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return k, fmt.Errorf("smime.key_file %s: mode %04o lets others read the mailbox's key; make it readable by the daemon's user only (chmod 600)", c.KeyFile, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return k, fmt.Errorf("smime.key_file %s: owned by uid %d, not by the daemon's user (uid %d)", c.KeyFile, st.Uid, os.Getuid())
	}
	b, err = os.ReadFile(c.KeyFile)
	if err != nil {
		return k, fmt.Errorf("smime.key_file: %w", err)
	}
	if k.Key, err = parseKey(b); err != nil {
		return k, fmt.Errorf("smime.key_file %s: %w", c.KeyFile, err)
	}
	if pub, ok := k.Key.(*rsa.PrivateKey); !ok || !pub.PublicKey.Equal(k.Cert.PublicKey) {
		return k, fmt.Errorf("smime.key_file %s: not the RSA key of smime.cert_file", c.KeyFile)
	}
	return k, nil
}

func parseKey(b []byte) (crypto.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS #8 or PKCS #1 private key")
}
