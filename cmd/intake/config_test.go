package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"intake/intake"
	"intake/internal/testenv"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/store"
)

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clearIntakeEnv unsets, for the test, every variable the configuration
// reads, so the machine's own settings cannot leak in.
func clearIntakeEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"INTAKE_IMAP_PASSWORD", "INTAKE_SMTP_PASSWORD", "INTAKE_IMAP_TOKEN", "INTAKE_SMTP_TOKEN",
		"INTAKE_WEB_USER", "INTAKE_WEB_PASSWORD", "INTAKE_WEB_ROLE", "INTAKE_WEB_GRANTS", "INTAKE_FAILPOINT", "INTAKE_OIDC_CLIENT_SECRET"} {
		t.Setenv(k, "")
	}
}

// openTestApp loads a configuration file and wires the application from it.
func openTestApp(t *testing.T, path string) (*app, error) {
	t.Helper()
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	a, err := openApp(context.Background(), &env{stdout: io.Discard, stderr: io.Discard}, cfg)
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, err
}

// govDomains reads, from the federal .gov list itself, the domains it gives
// an organisation, as "@domain" allowlist entries.
func govDomains(t *testing.T, csvPath, org string) []string {
	t.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	domainCol, orgCol := slices.Index(rows[0], "Domain name"), slices.Index(rows[0], "Organization name")
	if domainCol < 0 || orgCol < 0 {
		t.Fatalf("%s: header %v lacks Domain name or Organization name", csvPath, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		if r[orgCol] == org {
			out = append(out, "@"+strings.ToLower(r[domainCol]))
		}
	}
	return out
}

// gov_organization adds to an agency's allowlist every domain the federal
// .gov list (the shared reference data) gives its organisation, the name
// matched without regard to case, and only those; an agency without it
// keeps its own list; a name the list does not know stops the start. The
// daemon then takes mail from any of those domains as the agency's, and
// refuses a domain of another organisation.
func TestGovOrganization(t *testing.T) {
	clearIntakeEnv(t)
	refDir := filepath.Join(testenv.Shared(t), "data")
	const dhs = "Department of Homeland Security"
	want := govDomains(t, filepath.Join(refDir, "dotgov", "current-federal.csv"), dhs)
	for _, d := range []string{"@dhs.gov", "@fema.gov", "@cbp.gov", "@cisa.gov"} {
		if !slices.Contains(want, d) {
			t.Fatalf("the .gov list gives %s no %s: %v", dhs, d, want)
		}
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "intake.yaml")
	config := func(org string) string {
		return `store: ` + filepath.Join(dir, "intake.db") + `
from: allocation-management@opm.gov
default_call: ses-designation-review
reference_dir: ` + refDir + `
auth: {trusted_authserv_id: ` + testAuthServID + `}
agencies:
  - {code: HS, name: Department of Homeland Security, senders: ["chco@hq.dhs.gov"], gov_organization: "` + org + `"}
  - {code: AF, name: Department of the Air Force, senders: ["@us.af.mil"]}
`
	}
	writeTestFile(t, cfgFile, config(strings.ToUpper(dhs)))
	a, err := openTestApp(t, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.agencies) != 2 {
		t.Fatalf("agencies %+v", a.agencies)
	}
	got := slices.Sorted(slices.Values(a.agencies[0].Senders))
	wantHS := slices.Sorted(slices.Values(append([]string{"chco@hq.dhs.gov"}, want...)))
	if !slices.Equal(got, wantHS) {
		t.Errorf("HS allowlist:\n got  %v\n want %v", got, wantHS)
	}
	if got := a.agencies[1].Senders; !slices.Equal(got, []string{"@us.af.mil"}) {
		t.Errorf("AF allowlist %v, want only its own @us.af.mil", got)
	}

	// The daemon wired from it: mail from a DHS component's own .gov
	// domain is HS's; mail from Treasury's is nobody's.
	opts, err := a.daemonOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Failpoint = nil
	d, err := intake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	xlsx := parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)
	ids := map[string]int64{}
	for i, from := range []string{"ses.office@fema.gov", "hcm@treasury.gov"} {
		raw := agencyMail(t, from, from+".1@test", xlsx)
		sum := sha256.Sum256(raw)
		now := time.Now()
		id, _, err := a.store.SaveRaw(ctx, store.RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1),
			DedupeKey: email.DedupeKey(raw), MessageID: from + ".1@test", SHA256: hex.EncodeToString(sum[:]), Raw: raw,
			Size: int64(len(raw)), InternalDate: now, ReceivedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		ids[from] = id
	}
	if _, err := d.ProcessPending(ctx); err != nil {
		t.Fatal(err)
	}
	fema, err := a.store.Message(ctx, ids["ses.office@fema.gov"])
	if err != nil {
		t.Fatal(err)
	}
	if fema.Agency != "HS" || fema.Status == store.StatusRejected {
		t.Errorf("mail from fema.gov: %s, agency %q (%s); want taken as HS's", fema.Status, fema.Agency, fema.Note)
	}
	treasury, err := a.store.Message(ctx, ids["hcm@treasury.gov"])
	if err != nil {
		t.Fatal(err)
	}
	if treasury.Status != store.StatusRejected || treasury.Agency != "" {
		t.Errorf("mail from treasury.gov: %s, agency %q; want rejected, nobody's", treasury.Status, treasury.Agency)
	}

	// A name the list does not know stops the start, naming it.
	writeTestFile(t, cfgFile, config("Department of Homeland Securty"))
	if _, err := openTestApp(t, cfgFile); err == nil || !strings.Contains(err.Error(), "agency HS") || !strings.Contains(err.Error(), "Department of Homeland Securty") {
		t.Errorf("an unknown organisation: %v, want an error naming the agency and the name", err)
	}
	// Without reference data there is no list to take domains from.
	writeTestFile(t, cfgFile, strings.Replace(config(dhs), "reference_dir: "+refDir+"\n", "", 1))
	if _, err := LoadConfig(cfgFile); err == nil || !strings.Contains(err.Error(), "gov_organization needs reference_dir") {
		t.Errorf("gov_organization without reference_dir: %v, want refused", err)
	}
}

// An OAuth token is read from token_file at each login (a sidecar renews
// it), before the environment; without a file, from $INTAKE_IMAP_TOKEN or
// $INTAKE_SMTP_TOKEN; with neither, the error names both sources.
func TestTokenSource(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	writeTestFile(t, file, "  token-1\n")
	t.Setenv("INTAKE_IMAP_TOKEN", "from-env")
	get := tokenSource(file, "INTAKE_IMAP_TOKEN")
	if v, err := get(); err != nil || v != "token-1" {
		t.Errorf("token from the file: %q, %v; want token-1", v, err)
	}
	writeTestFile(t, file, "token-2\n")
	if v, err := get(); err != nil || v != "token-2" {
		t.Errorf("token after the file was renewed: %q, %v; want token-2", v, err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if v, err := get(); err == nil {
		t.Errorf("token file gone: got %q, want an error (not the environment's token)", v)
	}
	if v, err := tokenSource("", "INTAKE_IMAP_TOKEN")(); err != nil || v != "from-env" {
		t.Errorf("token from the environment: %q, %v; want from-env", v, err)
	}
	t.Setenv("INTAKE_IMAP_TOKEN", "")
	if _, err := tokenSource("", "INTAKE_IMAP_TOKEN")(); err == nil || !strings.Contains(err.Error(), "token_file") || !strings.Contains(err.Error(), "$INTAKE_IMAP_TOKEN") {
		t.Errorf("no token anywhere: %v, want an error naming token_file and $INTAKE_IMAP_TOKEN", err)
	}

	// Wired into the daemon: each server its own variable, or its own file.
	cfgFile := filepath.Join(dir, "intake.yaml")
	base := `store: ` + filepath.Join(dir, "intake.db") + `
from: allocation-management@opm.gov
imap: {addr: "imap.example.gov:993", username: bot, auth: xoauth2%s}
smtp: {host: smtp.example.gov, username: bot, auth: xoauth2%s}
agencies: [{code: HS, senders: ["@dhs.gov"]}]
`
	tokens := func(path string) (imapTok, smtpTok string) {
		t.Helper()
		a, err := openTestApp(t, path)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := a.daemonOptions()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		imapTok, ierr := opts.IMAP.Token(ctx)
		smtpTok, serr := opts.SMTP.Token(ctx)
		if err := errors.Join(ierr, serr); err != nil {
			t.Fatal(err)
		}
		return imapTok, smtpTok
	}
	t.Setenv("INTAKE_IMAP_TOKEN", "imap-env")
	t.Setenv("INTAKE_SMTP_TOKEN", "smtp-env")
	writeTestFile(t, cfgFile, strings.Replace(strings.Replace(base, "%s", "", 1), "%s", "", 1))
	if i, s := tokens(cfgFile); i != "imap-env" || s != "smtp-env" {
		t.Errorf("tokens from the environment: IMAP %q, SMTP %q; want imap-env, smtp-env", i, s)
	}
	imapFile, smtpFile := filepath.Join(dir, "imap.token"), filepath.Join(dir, "smtp.token")
	writeTestFile(t, imapFile, "imap-file\n")
	writeTestFile(t, smtpFile, "smtp-file\n")
	writeTestFile(t, cfgFile, strings.Replace(strings.Replace(base, "%s", ", token_file: "+imapFile, 1), "%s", ", token_file: "+smtpFile, 1))
	if i, s := tokens(cfgFile); i != "imap-file" || s != "smtp-file" {
		t.Errorf("tokens from token_file: IMAP %q, SMTP %q; want imap-file, smtp-file", i, s)
	}
}

// Passwords: password_file, then $INTAKE_IMAP_PASSWORD /
// $INTAKE_SMTP_PASSWORD, then the file's own value; a password_file that
// cannot be read stops the start.
func TestConfigPasswordSources(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "intake.yaml")
	pwFile := filepath.Join(dir, "smtp.pw")
	writeTestFile(t, pwFile, "smtp-from-file\n")
	writeTestFile(t, cfgFile, `from: allocation-management@opm.gov
imap: {addr: "imap.example.gov:993", username: bot, password: in-config}
smtp: {host: smtp.example.gov, username: bot, password: in-config, password_file: `+pwFile+`}
`)
	c, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.Password != "in-config" || c.SMTP.Password != "smtp-from-file" {
		t.Errorf("without the environment: IMAP %q, SMTP %q; want in-config, smtp-from-file", c.IMAP.Password, c.SMTP.Password)
	}
	t.Setenv("INTAKE_IMAP_PASSWORD", "imap-env")
	t.Setenv("INTAKE_SMTP_PASSWORD", "smtp-env")
	if c, err = LoadConfig(cfgFile); err != nil {
		t.Fatal(err)
	}
	if c.IMAP.Password != "imap-env" || c.SMTP.Password != "smtp-from-file" {
		t.Errorf("with the environment: IMAP %q, SMTP %q; want imap-env, smtp-from-file (the file first)", c.IMAP.Password, c.SMTP.Password)
	}
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(cfgFile); err == nil || !strings.Contains(err.Error(), "secret file") {
		t.Errorf("password_file missing: %v, want the start refused", err)
	}
}

// $INTAKE_WEB_USER and $INTAKE_WEB_PASSWORD add a dashboard user beside
// those of the file, only when both are set; that user gets in, a wrong
// password does not; with no user at all the dashboard is refused.
func TestWebUserFromEnvironment(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "intake.yaml")
	leadHash, err := bcrypt.GenerateFromPassword([]byte("lead-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, cfgFile, `store: `+filepath.Join(dir, "intake.db")+`
from: allocation-management@opm.gov
web: {users: {lead: {password_hash: '`+string(leadHash)+`', role: analyst}}}
`)
	t.Setenv("INTAKE_WEB_USER", "analyst")
	t.Setenv("INTAKE_WEB_PASSWORD", "s3cret")
	a, err := openTestApp(t, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if u := a.cfg.Web.Users; len(u) != 2 || u["analyst"].password != "s3cret" || u["analyst"].Role != "viewer" ||
		u["lead"].PasswordHash != string(leadHash) || u["lead"].Role != "analyst" {
		t.Errorf("web users %+v, want lead from the file and analyst (a viewer) from the environment", a.cfg.Web.Users)
	}
	h, err := a.webHandler()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pass string
		want       int
	}{
		{"analyst", "s3cret", http.StatusOK},
		{"lead", "lead-pw", http.StatusOK},
		{"analyst", "wrong", http.StatusUnauthorized},
		{"", "", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("GET / as %q:%q: %d, want %d", c.user, c.pass, rec.Code, c.want)
		}
	}

	// A user without a password is not added; with no user the dashboard
	// is refused, naming the variables.
	writeTestFile(t, cfgFile, `store: `+filepath.Join(dir, "intake.db")+`
from: allocation-management@opm.gov
`)
	t.Setenv("INTAKE_WEB_PASSWORD", "")
	a, err = openTestApp(t, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.cfg.Web.Users) != 0 {
		t.Errorf("INTAKE_WEB_USER without INTAKE_WEB_PASSWORD added users %v", a.cfg.Web.Users)
	}
	if _, err := a.webHandler(); err == nil || !strings.Contains(err.Error(), "INTAKE_WEB_USER") {
		t.Errorf("a dashboard without users: %v, want refused naming $INTAKE_WEB_USER", err)
	}
}
