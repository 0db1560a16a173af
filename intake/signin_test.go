package intake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"intake/intake"
	"intake/intake/signin"
	"intake/internal/oauthtest"
	"intake/store"
)

// oauthRig is the harness with an identity provider: the SMTP server takes
// only tokens the provider issued and has not seen expire or revoked, and
// the daemon gets its tokens from the provider by client credentials, on
// the harness's clock.
type oauthRig struct {
	*harness
	idp     *oauthtest.Server
	metrics *intake.Metrics
}

func newOAuthRig(t *testing.T, mech string) *oauthRig {
	var h *harness
	now := func() time.Time { return h.clock.Now() }
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "intake-app", ClientSecret: "s3cret", Username: "bot",
		Scope: signin.ScopeExchange, Lifetime: time.Hour, Now: now})
	metrics := intake.NewMetrics(nil)
	h = newHarness(t, harnessOptions{
		SMTPBearer: func(user, token string) bool { u, ok := idp.Active(token); return ok && u == user },
		Modify: func(o *intake.Options) {
			fetch, err := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "intake-app", ClientSecret: "s3cret"}.Fetcher()
			if err != nil {
				t.Fatal(err)
			}
			m, err := signin.Bearer(mech, "bot", signin.NewTokens(fetch, signin.TokensOptions{Now: now}))
			if err != nil {
				t.Fatal(err)
			}
			o.SMTP.SignIn = m
			o.Metrics = metrics
		}})
	return &oauthRig{harness: h, idp: idp, metrics: metrics}
}

func (r *oauthRig) failures(reason string) float64 {
	return testutil.ToFloat64(r.metrics.SignInFailures.WithLabelValues("smtp", reason))
}

// OAuth 2.0 for SMTP, both mechanisms: the token is fetched from the
// provider, kept while it is good, replaced before it expires, and replaced
// at once when the server refuses it (revoked); every session ends with QUIT.
func TestSMTPOAuth_tokenLifecycle(t *testing.T) {
	for _, mech := range []string{signin.XOAuth2, signin.OAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			r := newOAuthRig(t, mech)
			r.deliver(goodSubmission(t, "first-"+mech+"@dhs.gov"))
			r.start()
			r.replies(1)
			if n := r.idp.Requests(); n != 1 {
				t.Errorf("%d token requests for the first reply, want 1", n)
			}
			waitFor(t, "the session ended with QUIT", func() bool { return r.smtp.Quits() >= 1 && r.smtp.Sessions() == 0 })

			// 56 minutes on, the hour's token has 4 minutes left: replaced
			// before use, never refused.
			r.clock.Add(56 * time.Minute)
			r.deliver(goodSubmission(t, "second-"+mech+"@dhs.gov"))
			r.replies(2)
			if n := r.idp.Requests(); n != 2 {
				t.Errorf("%d token requests, want 2: a token 4 minutes from expiry must be replaced", n)
			}
			if got := r.failures("refused"); got != 0 {
				t.Errorf("%v refused sign-ins: the token was used too close to its expiry", got)
			}

			// Revoked at the provider: the server refuses it, the daemon
			// asks for a new one at once and the reply goes out in the same
			// round, charged one attempt.
			unavailable := testutil.ToFloat64(r.metrics.SMTPUnavailable)
			r.idp.Revoke()
			r.deliver(goodSubmission(t, "third-"+mech+"@dhs.gov"))
			got := r.replies(3)
			if n := r.idp.Requests(); n != 3 {
				t.Errorf("%d token requests, want 3", n)
			}
			if f := r.failures("refused"); f != 1 {
				t.Errorf("%v refused sign-ins counted, want 1", f)
			}
			if u := testutil.ToFloat64(r.metrics.SMTPUnavailable); u != unavailable {
				t.Errorf("the round with the revoked token failed (%v rounds without SMTP, was %v): want the fresh token tried at once", u, unavailable)
			}
			it, err := r.store.ReplyByMessageID(context.Background(), parseReply(t, got[2]).MessageID)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the third reply marked sent", func() bool {
				it, err = r.store.ReplyByMessageID(context.Background(), it.MessageID)
				return err == nil && it.Status == store.OutboxSent
			})
			if it.Attempts != 1 {
				t.Errorf("the reply after a revoked token took %d attempts, want 1", it.Attempts)
			}
			if err := r.d.Health(r.clock.Now()); err != nil {
				t.Errorf("unhealthy after a refused token was replaced: %v", err)
			}
			// Four sessions, the one whose token was refused included: each
			// ended with QUIT (go-mail's AUTH sends it on a refusal), none
			// was dropped.
			waitFor(t, "every session ended with QUIT", func() bool { return r.smtp.Quits() >= 4 && r.smtp.Sessions() == 0 })
		})
	}
}

// The provider refuses our client (a secret that expired): a log line, a
// metric, /healthz unhealthy, and the reply waits without losing an
// attempt; once the provider accepts again the reply goes out.
func TestSMTPOAuth_clientRefused(t *testing.T) {
	r := newOAuthRig(t, signin.XOAuth2)
	r.idp.Refuse(true)
	r.deliver(goodSubmission(t, "refused@dhs.gov"))
	r.start()
	waitFor(t, "a refused token request counted", func() bool { return r.failures("token_refused") >= 2 })
	err := r.d.Health(r.clock.Now())
	if err == nil || !strings.Contains(err.Error(), "smtp sign-in refused") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("health %v: want unhealthy, naming the refusal", err)
	}
	items, err := r.store.DueReplies(context.Background(), r.clock.Now().Add(24*time.Hour), 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("%d replies waiting (%v), want 1", len(items), err)
	}
	if items[0].Attempts != 0 {
		t.Errorf("the waiting reply was charged %d attempts", items[0].Attempts)
	}
	if r.smtp.Logins() != 0 {
		t.Error("a sign-in was tried without a token")
	}
	r.idp.Refuse(false)
	r.replies(1)
	waitFor(t, "healthy again", func() bool { return r.d.Health(r.clock.Now()) == nil })
}
