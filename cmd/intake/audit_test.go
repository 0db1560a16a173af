package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"intake/store"
)

// `intake export` is audited with the OS user; `intake audit list` shows
// it; `intake audit verify` passes an untouched log and fails, naming the
// entry, once the table was changed behind the program's back, or rebuilt
// whole (caught by the head kept from before).
func TestAuditCommands(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, kind := range []string{"position-report", "retention-request"} {
		if _, errOut, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "--kind", kind, "-o", filepath.Join(dir, kind+".csv")); err != nil {
			t.Fatalf("export: %v %s", err, errOut)
		}
	}
	if _, _, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "--kind", "nope"); err == nil {
		t.Error("export of an unknown kind succeeded")
	}
	out, _, err := runCmd(t, "audit", "list", "--store", db)
	if err != nil {
		t.Fatal(err)
	}
	me := osUser()
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[1], me) ||
		!strings.Contains(lines[1], "cli") || !strings.Contains(lines[1], "export") || !strings.Contains(lines[1], "retention-request current versions") ||
		!strings.Contains(lines[2], "position-report") || !strings.Contains(lines[1], "retention-request.csv") {
		t.Errorf("audit list:\n%s", out)
	}
	out, _, err = runCmd(t, "audit", "verify", "--store", db)
	head := regexp.MustCompile(`head (2:[0-9a-f]{64})`).FindStringSubmatch(out)
	if err != nil || !strings.Contains(out, "intact: 2 entries") || head == nil {
		t.Fatalf("verify of an untouched log: %v\n%s", err, out)
	}

	raw, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET user = 'someone-else' WHERE id = 1`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err = runCmd(t, "audit", "verify", "--store", db)
	if err == nil || !strings.Contains(out, "TAMPERED: entry 1 was changed") || !strings.Contains(out, "triggers") {
		t.Errorf("verify after an edit: %v\n%s", err, out)
	}
	// Rebuilt whole: consistent in itself, but not with the head kept.
	for _, q := range []string{`DROP TRIGGER audit_no_delete`, `DELETE FROM audit`, `DELETE FROM sqlite_sequence WHERE name = 'audit'`,
		`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, _, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "-o", filepath.Join(dir, "x.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if out, _, err := runCmd(t, "audit", "verify", "--store", db); err != nil {
		t.Fatalf("a rebuilt log is consistent in itself: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "audit", "verify", "--store", db, "--head", head[1])
	if err == nil || !strings.Contains(out, "TAMPERED: entry 2 has not the hash recorded for it") {
		t.Errorf("verify of a rebuilt log with the head kept: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "audit", "verify", "--store", db, "--head", "nonsense"); err == nil {
		t.Error("a malformed --head was accepted")
	}
}

// `intake hash-password` reads a line and prints a bcrypt hash of it, at
// the cost asked (the default, 12, takes seconds under the race detector,
// so a low one is asked here).
func TestHashPassword(t *testing.T) {
	var out strings.Builder
	if err := cmdHashPassword(context.Background(), &env{stdout: &out, stderr: os.Stderr, stdin: strings.NewReader("correct horse\n")}, []string{"--cost", "5"}); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse")); err != nil || strings.Contains(h, "correct") {
		t.Errorf("hash %q: %v", h, err)
	}
	if c, err := bcrypt.Cost([]byte(h)); err != nil || c != 5 {
		t.Errorf("cost %d, %v; want 5", c, err)
	}
	if err := cmdHashPassword(context.Background(), &env{stdout: &out, stderr: os.Stderr, stdin: strings.NewReader("\n")}, nil); err == nil {
		t.Error("an empty password was hashed")
	}
}

// The dashboard's settings are checked at start: no password in the file
// (and the refusal does not repeat it), roles, TLS files together, and no
// plain HTTP on an address other than loopback unless a TLS proxy is in
// front.
func TestConfig_web(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "intake.yaml")
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base := "store: " + filepath.Join(dir, "intake.db") + "\nfrom: allocation-management@opm.gov\n"
	user := "{password_hash: '" + string(h) + "', role: analyst}"
	for _, c := range []struct {
		name, web, want string
	}{
		{"plain password", "web: {users: {ana: hunter2-secret}}", "a password is never written"},
		{"password key", "web: {users: {ana: {password: hunter2-secret, role: analyst}}}", "field password not found"},
		{"no hash", "web: {users: {ana: {role: analyst}}}", "web.users.ana.password_hash is required"},
		{"bad role", "web: {users: {ana: {password_hash: x, role: root}}}", "web.users.ana.role"},
		{"plain HTTP on all addresses", "web: {listen: '0.0.0.0:8080', users: {ana: " + user + "}}", "plain HTTP"},
		{"plain HTTP on a public address", "web: {listen: '192.0.2.1:8080', users: {ana: " + user + "}}", "web.behind_tls_proxy"},
		{"certificate without key", "web: {listen: '0.0.0.0:8443', tls_cert: c.pem, users: {ana: " + user + "}}", "web.tls_cert and web.tls_key"},
		{"TLS", "web: {listen: '0.0.0.0:8443', tls_cert: c.pem, tls_key: k.pem, users: {ana: " + user + "}}", ""},
		{"behind a TLS proxy", "web: {listen: '0.0.0.0:8080', behind_tls_proxy: true, users: {ana: " + user + "}}", ""},
		{"loopback", "web: {listen: '127.0.0.1:8080', users: {ana: " + user + "}}", ""},
	} {
		writeTestFile(t, cfgFile, base+c.web+"\n")
		_, err := LoadConfig(cfgFile)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want refused saying %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the refusal repeats the password: %v", c.name, err)
		}
	}
	// `intake serve --listen` is checked too.
	writeTestFile(t, cfgFile, base+"web: {users: {ana: "+user+"}}\n")
	if _, _, err := runCmd(t, "serve", "--config", cfgFile, "--listen", "0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("serve --listen 0.0.0.0:0: %v, want refused", err)
	}
}

// An export that cannot be audited is not made.
func TestExport_notWithoutAudit(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	raw, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DROP TABLE audit`); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	stdout, _, err := runCmd(t, "export", "--store", db, "--call", "ses-designation-review", "-o", out)
	if err == nil || !strings.Contains(err.Error(), "audit") {
		t.Errorf("export without an audit log: %v, want refused", err)
	}
	if _, statErr := os.Stat(out); statErr == nil || stdout != "" {
		t.Error("the export was written anyway")
	}
}
