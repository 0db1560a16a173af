package integration_test

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/intake/signin"
	"intake/internal/oauthtest"
	"intake/parser"
	"intake/parser/email"
	"intake/parser/parsertest"
	"intake/reply"
	"intake/store"
)

// testClock is real time plus an offset the test moves forward, shared by
// the identity provider and the daemon's token cache.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }
func (d *dovecot) kick(t *testing.T, u string) {
	t.Helper()
	if out, err := exec.Command("doveadm", "-c", d.conf, "kick", u).CombinedOutput(); err != nil {
		t.Fatalf("doveadm kick %s: %v\n%s", u, err, out)
	}
}

// appendMail puts raw into the user's INBOX, as a delivery would.
func (d *dovecot) appendMail(t *testing.T, user string, raw []byte) {
	t.Helper()
	c := d.login(t, user)
	defer c.Close()
	cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: time.Now()})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// oauthRig is Dovecot checking bearer tokens at the test's identity
// provider, an SMTP server doing the same, and the daemon getting its
// tokens from the provider by client credentials, as from Entra ID.
type oauthRig struct {
	dc      *dovecot
	idp     *oauthtest.Server
	smtp    *localmail.SMTPServer
	clock   *testClock
	metrics *intake.Metrics
	store   *store.Store
	bot     string
	sent    int
}

func newOAuthRig(t *testing.T, bot string, mech string) *oauthRig {
	t.Helper()
	clk := &testClock{}
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "intake-app", ClientSecret: "s3cret", Username: bot,
		Scope: signin.ScopeExchange, Lifetime: time.Hour, Now: clk.Now})
	dc := startDovecotWith(t, dovecotOptions{Users: []string{bot}, IntrospectURL: idp.IntrospectURL})
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{Bearer: func(user, token string) bool {
		u, ok := idp.Active(token)
		return ok && u == user
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })

	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	calls, err := parser.BuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rb, err := reply.NewBuilder(reply.Options{From: botAddr})
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "intake-app", ClientSecret: "s3cret"}.Fetcher()
	if err != nil {
		t.Fatal(err)
	}
	// One token for both servers, as one app registration gives.
	tokens := signin.NewTokens(fetch, signin.TokensOptions{Now: clk.Now})
	imapSignIn, err := signin.Bearer(mech, bot, tokens)
	if err != nil {
		t.Fatal(err)
	}
	smtpSignIn, err := signin.Bearer(mech, bot, tokens)
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, smtpSrv.Addr)
	metrics := intake.NewMetrics(nil)
	d, err := intake.New(intake.Options{
		Store: st, Calls: calls, Reply: rb, From: botAddr, Own: []string{bot}, DefaultCall: defaultCall,
		Agencies:     []intake.Agency{{Code: "HS", Name: "Department of Homeland Security", Senders: []string{"@dhs.gov"}}},
		IMAP:         intake.IMAPOptions{Addr: dc.imapAddr, TLS: "none", Username: bot, Auth: "xoauth2", Token: imapSignIn.Token, Timeout: 10 * time.Second},
		SMTP:         intake.SMTPOptions{Host: host, Port: port, TLS: "none", SignIn: smtpSignIn, Timeout: 10 * time.Second},
		Auth:         email.AuthPolicy{TrustedAuthServID: receivingID},
		PollInterval: 300 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 100 * time.Millisecond },
		Metrics:      metrics,
		Logger:       slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, d)
	return &oauthRig{dc: dc, idp: idp, smtp: smtpSrv, clock: clk, metrics: metrics, store: st, bot: bot}
}

// submit delivers a submission and waits for its reply.
func (r *oauthRig) submit(t *testing.T, id string) {
	t.Helper()
	r.dc.appendMail(t, r.bot, submission{from: "chco@dhs.gov", to: r.bot, subject: "SES report " + id, messageID: id, file: "r.xlsx",
		data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}.bytes(t))
	r.sent++
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := r.smtp.Wait(ctx, r.sent); err != nil {
		t.Fatal(err)
	}
}

func (r *oauthRig) refused(server string) float64 {
	return testutil.ToFloat64(r.metrics.SignInFailures.WithLabelValues(server, "refused"))
}

// Dovecot's oauth2 passdb checks each bearer token at the test's
// introspection endpoint. The daemon's token expires in the middle of its
// run: the next sign-in (after the server drops the session) uses a new
// token, fetched before the old one ran out, and nothing is refused.
func TestDovecotOAuth_tokenExpires(t *testing.T) {
	r := newOAuthRig(t, "oauth-bot@opm.gov", signin.XOAuth2)
	r.submit(t, "first@dhs.gov")
	if n := r.idp.Requests(); n != 1 {
		t.Errorf("%d token requests, want 1 (IMAP and SMTP share the token)", n)
	}
	if r.idp.Introspections() == 0 {
		t.Fatal("Dovecot never asked the introspection endpoint: the token was not checked")
	}

	// An hour on: the first token has expired at the provider.
	r.clock.Add(61 * time.Minute)
	first := r.idp.Issued()[0]
	if _, ok := r.idp.Active(first); ok {
		t.Fatal("the first token is still active an hour on")
	}
	r.dc.kick(t, r.bot)
	r.submit(t, "second@dhs.gov")
	if n := r.idp.Requests(); n != 2 {
		t.Errorf("%d token requests, want 2: the expired token replaced once", n)
	}
	if f := r.refused("imap") + r.refused("smtp"); f != 0 {
		t.Errorf("%v sign-ins refused: an expired token was sent", f)
	}
	subs, err := r.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil || len(subs) != 2 {
		t.Errorf("%d submissions (%v), want 2", len(subs), err)
	}
}
