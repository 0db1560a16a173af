package signin_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"intake/intake/signin"
	"intake/internal/oauthtest"
)

// clock is a settable clock shared by the provider and the token cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 24, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestClientSecret_refreshedBeforeExpiry(t *testing.T) {
	clk := newClock()
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app", ClientSecret: "s3cret", Username: "bot@opm.gov",
		Scope: signin.ScopeExchange, Lifetime: time.Hour, Now: clk.Now})
	fetch, err := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app", ClientSecret: "s3cret"}.Fetcher()
	if err != nil {
		t.Fatal(err)
	}
	toks := signin.NewTokens(fetch, signin.TokensOptions{Now: clk.Now})
	ctx := context.Background()
	first, err := toks.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := idp.LastForm(); f["grant_type"][0] != "client_credentials" || f["scope"][0] != signin.ScopeExchange {
		t.Errorf("token request %v", f)
	}
	// Well within its hour: the same token, no new request.
	clk.Advance(50 * time.Minute)
	if again, _ := toks.Token(ctx); again != first || idp.Requests() != 1 {
		t.Errorf("a token 10 minutes from expiry was fetched again (requests %d)", idp.Requests())
	}
	// Within five minutes of its expiry: replaced before it runs out.
	clk.Advance(6 * time.Minute)
	second, err := toks.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || idp.Requests() != 2 {
		t.Errorf("token 4 minutes from expiry was not replaced (requests %d)", idp.Requests())
	}
	if _, ok := idp.Active(second); !ok {
		t.Error("the new token is not active at the provider")
	}
	// A server refused it: dropped, the next sign-in gets a new one.
	m, err := signin.Bearer("xoauth2", "bot@opm.gov", toks)
	if err != nil {
		t.Fatal(err)
	}
	m.Refused()
	third, _ := toks.Token(ctx)
	if third == second || idp.Requests() != 3 {
		t.Errorf("a refused token was used again (requests %d)", idp.Requests())
	}
}

func TestClientSecret_refused(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app", ClientSecret: "right"})
	fetch, err := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app", ClientSecret: "wrong"}.Fetcher()
	if err != nil {
		t.Fatal(err)
	}
	_, err = signin.NewTokens(fetch, signin.TokensOptions{}).Token(context.Background())
	var te *signin.TokenError
	if !errors.As(err, &te) || !te.Refused {
		t.Fatalf("err %v: want a TokenError refused by the provider", err)
	}
	if !strings.Contains(err.Error(), "refused our client") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %q does not say what the provider refused", err)
	}
	// An endpoint that cannot be reached is not a refusal: waiting may help.
	fetch, _ = signin.ClientCredentials{TokenURL: "http://127.0.0.1:1/token", ClientID: "app", ClientSecret: "right"}.Fetcher()
	_, err = signin.NewTokens(fetch, signin.TokensOptions{}).Token(context.Background())
	if !errors.As(err, &te) || te.Refused {
		t.Fatalf("err %v: want a TokenError, not refused", err)
	}
}

// A client certificate instead of a secret: the signed assertion is
// checked by the provider (signature, thumbprint, audience, issuer).
func TestClientCertificate(t *testing.T) {
	clk := newClock()
	cert := selfSigned(t, clk.Now())
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app-id", Certificate: cert.Leaf, Username: "bot@opm.gov", Now: clk.Now})
	fetch, err := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app-id", Certificate: &cert, Now: clk.Now}.Fetcher()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signin.NewTokens(fetch, signin.TokensOptions{Now: clk.Now}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if user, ok := idp.Active(tok); !ok || user != "bot@opm.gov" {
		t.Errorf("token for %q active=%v", user, ok)
	}
	if idp.LastForm()["client_secret"] != nil {
		t.Error("a client secret was sent")
	}
	// Another key under the same certificate is refused.
	other := selfSigned(t, clk.Now())
	other.Certificate = cert.Certificate
	fetch, _ = signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app-id", Certificate: &other, Now: clk.Now}.Fetcher()
	if _, err := signin.NewTokens(fetch, signin.TokensOptions{}).Token(context.Background()); err == nil {
		t.Error("an assertion signed by another key was accepted")
	}
}

// A Google service account acts as the mailbox's user (domain-wide
// delegation): the JWT it signs names that user.
func TestServiceAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := oauthtest.Start(t, oauthtest.Options{ServiceAccount: "intake@opm-mail.iam.gserviceaccount.com", ServiceKey: &key.PublicKey, Scope: signin.ScopeGmail})
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	keyJSON, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "intake@opm-mail.iam.gserviceaccount.com",
		"private_key": string(pemKey), "private_key_id": "k1", "token_uri": idp.TokenURL})
	fetch, err := signin.ServiceAccount{KeyJSON: keyJSON, Subject: "datacall@opm.gov"}.Fetcher()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signin.NewTokens(fetch, signin.TokensOptions{}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if user, ok := idp.Active(tok); !ok || user != "datacall@opm.gov" {
		t.Errorf("token for %q active=%v, want datacall@opm.gov", user, ok)
	}
}

func TestCommand(t *testing.T) {
	clk := newClock()
	ctx := context.Background()
	// A plain token is used once: each sign-in runs the command again.
	dir := t.TempDir()
	toks := signin.NewTokens(signin.Command("n=$(cat "+dir+"/n 2>/dev/null || echo 0); echo $((n+1)) > "+dir+"/n; echo tok-$n", 0, clk.Now), signin.TokensOptions{Now: clk.Now})
	a, err := toks.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := toks.Token(ctx)
	if a != "tok-0" || b != "tok-1" {
		t.Errorf("tokens %q, %q: want the command run at each sign-in", a, b)
	}
	// JSON with expires_in is kept until shortly before it expires.
	toks = signin.NewTokens(signin.Command(`echo '{"access_token":"j-'$(date +%N)'","expires_in":3600}'`, 0, clk.Now), signin.TokensOptions{Now: clk.Now})
	a, _ = toks.Token(ctx)
	b, _ = toks.Token(ctx)
	if a != b || !strings.HasPrefix(a, "j-") {
		t.Errorf("JSON token %q then %q: want kept", a, b)
	}
	clk.Advance(58 * time.Minute)
	if c, _ := toks.Token(ctx); c == a {
		t.Error("JSON token not replaced near its expiry")
	}
	// A failing command says so, with its stderr.
	_, err = signin.NewTokens(signin.Command("echo no credentials >&2; exit 3", 0, nil), signin.TokensOptions{}).Token(ctx)
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("err %v: want the command's stderr", err)
	}
}

func selfSigned(t *testing.T, now time.Time) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "intake"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
