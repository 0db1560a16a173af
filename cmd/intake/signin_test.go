package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/intake/signin"
	"intake/internal/oauthtest"
)

// The oauth client of the configuration: an Entra-style app with a
// secret (from a file), or a certificate; IMAP and SMTP share its token;
// a token command is run at each sign-in.
func TestOAuthConfig_wired(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "intake"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	certFile := writeTmp(t, filepath.Join(dir, "app.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))+
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	secretFile := writeTmp(t, filepath.Join(dir, "secret"), "s3cret\n")
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app-id", ClientSecret: "s3cret", Certificate: leaf, Username: "bot@opm.gov", Scope: signin.ScopeExchange})

	base := "store: " + filepath.Join(dir, "intake.db") + `
from: allocation-management@opm.gov
imap: {addr: "imap.example.gov:993", username: bot@opm.gov, auth: oauthbearer}
smtp: {host: smtp.example.gov, username: bot@opm.gov, auth: xoauth2}
agencies: [{code: HS, senders: ["@dhs.gov"]}]
oauth:
  provider: entra
  token_url: ` + idp.TokenURL + `
  client_id: app-id
`
	for _, c := range []struct{ name, extra string }{
		{"secret", "  client_secret_file: " + secretFile + "\n"},
		{"certificate", "  certificate_file: " + certFile + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeTmp(t, filepath.Join(t.TempDir(), "intake.yaml"), base+c.extra)
			a, err := openTestApp(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			opts, err := a.daemonOptions()
			if err != nil {
				t.Fatal(err)
			}
			before := idp.Requests()
			ctx := context.Background()
			imapTok, err := opts.IMAP.SignIn.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			smtpTok, err := opts.SMTP.SignIn.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if user, ok := idp.Active(imapTok); !ok || user != "bot@opm.gov" || smtpTok != imapTok {
				t.Errorf("IMAP token %q (active %v for %q), SMTP %q: want one good token shared", imapTok, ok, user, smtpTok)
			}
			if n := idp.Requests() - before; n != 1 {
				t.Errorf("%d token requests for two servers, want 1", n)
			}
			if m := opts.SMTP.SignIn.Mechanism(); m != signin.XOAuth2 {
				t.Errorf("smtp mechanism %s", m)
			}
		})
	}

	// A token command, run at each sign-in.
	cfg := writeTmp(t, filepath.Join(dir, "cmd.yaml"), "store: "+filepath.Join(dir, "intake.db")+`
from: allocation-management@opm.gov
imap: {addr: "imap.example.gov:993", username: bot, auth: xoauth2, token_command: "echo cmd-token"}
smtp: {host: smtp.example.gov}
agencies: [{code: HS, senders: ["@dhs.gov"]}]
`)
	a, err := openTestApp(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := a.daemonOptions()
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := opts.IMAP.SignIn.Token(context.Background()); err != nil || tok != "cmd-token" {
		t.Errorf("token command: %q, %v", tok, err)
	}
	if opts.SMTP.SignIn != nil {
		t.Error("smtp without a username signs in")
	}
}

// Each wrong sign-in setting is refused at start, naming the setting.
func TestOAuthConfig_refused(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	head := "store: " + filepath.Join(dir, "intake.db") + "\nfrom: allocation-management@opm.gov\nagencies: [{code: HS, senders: [\"@dhs.gov\"]}]\n"
	for _, c := range []struct{ name, conf, want string }{
		{"bearer without a token", "imap: {auth: xoauth2}\n", "imap.auth xoauth2 needs an access token"},
		{"smtp bearer without a token", "smtp: {username: bot, auth: oauthbearer}\n", "smtp.auth oauthbearer needs an access token"},
		{"file and command", "imap: {auth: xoauth2, token_file: /x, token_command: y}\n", "set one of them"},
		{"token with plain", "imap: {auth: plain, token_command: y}\n", "only used with imap.auth xoauth2"},
		{"entra without tenant", "imap: {auth: xoauth2}\noauth: {provider: entra, client_id: a, client_secret: b}\n", "needs oauth.tenant"},
		{"entra without client id", "imap: {auth: xoauth2}\noauth: {tenant: opm.gov, client_secret: b}\n", "oauth.client_id is required"},
		{"secret and certificate", "imap: {auth: xoauth2}\noauth: {tenant: opm.gov, client_id: a, client_secret: b, certificate_file: c}\n", "set one of client_secret"},
		{"neither secret nor certificate", "imap: {auth: xoauth2}\noauth: {tenant: opm.gov, client_id: a}\n", "set one of client_secret"},
		{"google without key", "imap: {auth: xoauth2}\noauth: {provider: google}\n", "needs oauth.service_account_file"},
		{"unknown provider", "imap: {auth: xoauth2}\noauth: {provider: okta, client_id: a}\n", "not one of entra, google, other"},
		{"unknown mechanism", "imap: {auth: cram-md5}\n", "imap.auth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeTmp(t, filepath.Join(t.TempDir(), "intake.yaml"), head+c.conf)
			if _, err := LoadConfig(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
	// login (the LOGIN command) is accepted, as the daemon offers it.
	cfg := writeTmp(t, filepath.Join(dir, "login.yaml"), head+"imap: {auth: login}\n")
	if _, err := LoadConfig(cfg); err != nil {
		t.Errorf("imap.auth login: %v", err)
	}
}

// writeTmp writes a file and returns its path.
func writeTmp(t *testing.T, path, content string) string {
	t.Helper()
	writeTestFile(t, path, content)
	return path
}
