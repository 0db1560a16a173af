package integration_test

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/localmail"
	"intake/intake/signin"
	"intake/internal/oauthtest"
	"intake/parser/parsertest"
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
	smtp    *localmail.SMTPServer // nil when replies go through Postfix
	pf      *postfix
	agency  string // with Postfix: the Dovecot mailbox replies reach
	clock   *testClock
	metrics *intake.Metrics
	store   *store.Store
	bot     string
	sent    int
}

// newOAuthRig starts the rig; withPostfix sends the replies through
// Postfix's submission port, whose SMTP AUTH Dovecot checks with the same
// introspection endpoint, into the agency's Dovecot mailbox.
func newOAuthRig(t *testing.T, bot string, mech string, withPostfix bool) *oauthRig {
	t.Helper()
	clk := &testClock{}
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "intake-app", ClientSecret: "s3cret", Username: bot,
		Scope: signin.ScopeExchange, Lifetime: time.Hour, Now: clk.Now})
	r := &oauthRig{idp: idp, clock: clk, bot: bot}
	var smtpAddr string
	if withPostfix {
		r.agency = "chco@dhs.gov"
		authPort := freePort(t)
		r.dc = startDovecotWith(t, dovecotOptions{Users: []string{bot, r.agency}, IntrospectURL: idp.IntrospectURL, AuthPort: authPort})
		r.pf = startPostfixWith(t, postfixOptions{SASLPort: authPort}, []string{"opm.gov", "dhs.gov"}, r.dc.lmtpPort)
		smtpAddr = r.pf.submissionAddr
	} else {
		r.dc = startDovecotWith(t, dovecotOptions{Users: []string{bot}, IntrospectURL: idp.IntrospectURL})
		smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{Bearer: func(user, token string) bool {
			u, ok := idp.Active(token)
			return ok && u == user
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { smtpSrv.Close() })
		r.smtp, smtpAddr = smtpSrv, smtpSrv.Addr
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
	metrics := intake.NewMetrics(nil)
	d, st := newInProcess(t, r.dc, smtpAddr, bot, "none", func(o *intake.Options) {
		appendedMail(o)
		// Bearer tokens for both servers, no password.
		o.IMAP.Username, o.IMAP.Password, o.IMAP.SignIn = "", "", imapSignIn
		o.SMTP.SignIn = smtpSignIn
		o.PollInterval = 300 * time.Millisecond
		o.Metrics = metrics
	})
	runUntilCleanup(t, d)
	r.metrics, r.store = metrics, st
	return r
}

// submit delivers a submission and waits for its reply.
func (r *oauthRig) submit(t *testing.T, id string) {
	t.Helper()
	r.dc.appendMail(t, r.bot, submission{from: "chco@dhs.gov", to: r.bot, subject: "SES report " + id, messageID: id, file: "r.xlsx",
		data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}.bytes(t))
	r.sent++
	if r.smtp == nil {
		waitFor(t, 60*time.Second, "the reply in the agency's mailbox", func() bool {
			c := r.dc.login(t, r.agency)
			defer c.Close()
			return imapCount(c, "INBOX") == r.sent
		})
		return
	}
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
// token, fetched before the old one ran out, and nothing is refused. Then
// a token is revoked: refused once, replaced at once.
func TestDovecotOAuth_tokenExpires(t *testing.T) {
	r := newOAuthRig(t, "oauth-bot@opm.gov", signin.XOAuth2, false)
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

	// Revoked at the provider before it expired: Dovecot refuses it at the
	// next sign-in, and the daemon signs in again at once with a new one.
	r.idp.Revoke()
	r.dc.kick(t, r.bot)
	r.submit(t, "third@dhs.gov")
	if f := r.refused("imap"); f < 1 {
		t.Errorf("%v IMAP sign-ins refused, want the revoked token refused", f)
	}
	if n := r.idp.Requests(); n != 3 {
		t.Errorf("%d token requests, want 3", n)
	}
	subs, err := r.store.Submissions(context.Background(), store.ListFilter{})
	if err != nil || len(subs) != 3 {
		t.Errorf("%d submissions (%v), want 3", len(subs), err)
	}
}

// SMTP AUTH with bearer tokens at Postfix, which asks Dovecot, which asks
// the introspection endpoint: replies go out signed in, a revoked token is
// replaced at once, and every session that signed in ends with QUIT
// (Postfix logs "quit=1" for a session that did; one whose sign-in was
// refused is dropped).
func TestPostfixOAuth(t *testing.T) {
	r := newOAuthRig(t, "oauth-pf@opm.gov", signin.OAuthBearer, true)
	r.submit(t, "pf-first@dhs.gov")
	r.idp.Revoke() // IMAP is signed in already; SMTP signs in per round
	r.submit(t, "pf-second@dhs.gov")
	if f := r.refused("smtp"); f != 1 {
		t.Errorf("%v SMTP sign-ins refused, want 1 (the revoked token)", f)
	}
	if n := r.idp.Requests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	log := tail(r.pf.logFile, 1<<20)
	var sessions, quits int
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "disconnect from") && strings.Contains(line, "auth=1") {
			sessions++
			if strings.Contains(line, "quit=1") {
				quits++
			}
		}
	}
	if sessions < 2 || quits != sessions {
		t.Errorf("%d sessions with AUTH at Postfix, %d ended with QUIT:\n%s", sessions, quits, log)
	}
}
