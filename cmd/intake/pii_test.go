package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"intake/internal/testenv"
)

// The mailbox's S/MIME key is refused when others may read it, and when it
// is not the key of the configured certificate; the agency's workbook
// password comes from its file's first line or the environment.
func TestConfig_smimeKeyAndWorkbookPassword(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	ca := testenv.NewCA(t)
	box, other := ca.SMIME(t, "allocation-management@opm.gov"), ca.SMIME(t, "x@opm.gov")
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	anchors := write("roots.pem", ca.CAPEM, 0o644)
	cert := write("cert.pem", box.CertPEM, 0o644)
	key := write("key.pem", box.KeyPEM, 0o600)
	pw := write("hs.pw", []byte("S3cret with spaces \nsecond line\n"), 0o600)
	cfgText := func(keyFile string) string {
		return `store: ` + filepath.Join(dir, "intake.db") + `
from: allocation-management@opm.gov
smime: {trust_anchors: ` + anchors + `, cert_file: ` + cert + `, key_file: ` + keyFile + `}
agencies:
  - {code: HS, senders: ["@dhs.gov"], workbook_password_file: ` + pw + `}
  - {code: TR, senders: ["@treasury.gov"]}
`
	}
	cfgPath := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfgPath, cfgText(key))
	t.Setenv("INTAKE_WORKBOOK_PASSWORD_TR", "from-the-environment")
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agencies[0].WorkbookPassword != "S3cret with spaces " || cfg.Agencies[1].WorkbookPassword != "from-the-environment" {
		t.Errorf("workbook passwords not read as given")
	}
	k, err := cfg.SMIME.smimeKeys()
	if err != nil || k.Cert == nil || k.Key == nil || k.Roots == nil {
		t.Fatalf("smime keys: %v", err)
	}
	os.Chmod(key, 0o640)
	if _, err := cfg.SMIME.smimeKeys(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key readable by the group: %v", err)
	}
	wrong := write("other.pem", other.KeyPEM, 0o600)
	writeTestFile(t, cfgPath, cfgText(wrong))
	cfg, err = LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.SMIME.smimeKeys(); err == nil || !strings.Contains(err.Error(), "not the RSA key") {
		t.Errorf("another certificate's key: %v", err)
	}
}
