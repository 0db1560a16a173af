package intake_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"intake/intake"
	"intake/intake/localmail"
	"intake/intake/signin"
	"intake/internal/testenv"
	"intake/store"
)

// testCA makes a CA and a certificate it signs for 127.0.0.1 and
// localhost: the server's TLS configuration, and a pool holding only that
// CA, as a private CA named in smtp.ca_file gives.
func testCA(t *testing.T) (server *tls.Config, roots *x509.CertPool) {
	ca := testenv.NewCA(t)
	return ca.Server, ca.Roots
}

// clientTLS is the configuration `intake run` builds from smtp.host and
// smtp.ca_file.
func clientTLS(host string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// The production default: submission with STARTTLS (port 587) and a
// password (AUTH PLAIN), or implicit TLS (port 465). The reply goes out
// encrypted, logged in, once.
func TestOutboxTLS_plainLoginDelivers(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			serverTLS, roots := testCA(t)
			r := newOutboxRig(t,
				localmail.SMTPOptions{TLS: serverTLS, ImplicitTLS: mode == "tls", Username: "bot", Password: "s3cret"},
				func(host string, port int) intake.SMTPOptions {
					return intake.SMTPOptions{Host: host, Port: port, TLS: mode, TLSConfig: clientTLS(host, roots),
						SignIn: signin.Password("bot", "s3cret", false), Timeout: 10 * time.Second}
				}, nil)
			sent, err := r.d.SendDue(context.Background())
			if err != nil || sent != 1 {
				t.Fatalf("SendDue = %d, %v; want 1 sent", sent, err)
			}
			msgs := r.smtp.Messages()
			if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "bot" || msgs[0].To[0] != dhsSender {
				t.Fatalf("received %+v; want one message, over TLS, sent by user bot", msgs)
			}
			if it := r.item(); it.Status != store.OutboxSent || it.Attempts != 1 || it.LastError != "" {
				t.Errorf("reply %s, %d attempts, error %q; want sent at the first attempt", it.Status, it.Attempts, it.LastError)
			}
		})
	}
}

// A wrong password is refused with 535 5.7.8, a permanent error (RFC 4954
// section 6), and Permanent says so. It condemns our credentials, not the
// reply: the reply stays queued, is charged no attempt, and carries the
// server's answer as its last error until the password is fixed; then it
// goes out.
func TestOutboxTLS_wrongPassword(t *testing.T) {
	serverTLS, roots := testCA(t)
	smtpOpts := func(password string) func(string, int) intake.SMTPOptions {
		return func(host string, port int) intake.SMTPOptions {
			return intake.SMTPOptions{Host: host, Port: port, TLS: "starttls", TLSConfig: clientTLS(host, roots),
				SignIn: signin.Password("bot", password, false), Timeout: 10 * time.Second}
		}
	}
	r := newOutboxRig(t, localmail.SMTPOptions{TLS: serverTLS, Username: "bot", Password: "s3cret"}, smtpOpts("wrong"), nil)
	ctx := context.Background()
	sent, err := r.d.SendDue(ctx)
	if err == nil || sent != 0 {
		t.Fatalf("SendDue with a wrong password = %d, %v; want an error", sent, err)
	}
	if !strings.Contains(err.Error(), "535") || !intake.Permanent(err) {
		t.Errorf("error %q (permanent %v); want the server's 535, permanent", err, intake.Permanent(err))
	}
	if n := len(r.smtp.Messages()); n != 0 || r.smtp.Logins() != 1 {
		t.Errorf("%d messages, %d logins; want none sent after one refused login", n, r.smtp.Logins())
	}
	it := r.item()
	if it.Status != store.OutboxQueued || it.Attempts != 0 || !strings.Contains(it.LastError, "535") {
		t.Fatalf("reply %s, %d attempts, error %q; want queued, no attempt, the 535 recorded", it.Status, it.Attempts, it.LastError)
	}

	// The operator fixes the password: the reply goes out.
	o := r.opts
	o.SMTP = smtpOpts("s3cret")(o.SMTP.Host, o.SMTP.Port)
	if sent, err := r.daemon(o).SendDue(ctx); err != nil || sent != 1 {
		t.Fatalf("SendDue with the right password = %d, %v", sent, err)
	}
	if it := r.item(); it.Status != store.OutboxSent || it.Attempts != 1 || it.LastError != "" {
		t.Errorf("reply %s, %d attempts, error %q; want sent at its first attempt", it.Status, it.Attempts, it.LastError)
	}
}

// A server whose certificate is not trusted (signed by a CA we were not
// given, or checked against the system roots) gets nothing: no password,
// no message. The reply waits with the reason, and the connection is not
// left open.
func TestOutboxTLS_untrustedCertificate(t *testing.T) {
	for _, c := range []struct {
		name     string
		implicit bool
		system   bool // the default configuration: system roots
	}{
		{name: "starttls, another CA"},
		{name: "starttls, system roots", system: true},
		{name: "implicit tls, another CA", implicit: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			serverTLS, _ := testCA(t)
			_, otherRoots := testCA(t)
			mode := "starttls"
			if c.implicit {
				mode = "tls"
			}
			r := newOutboxRig(t, localmail.SMTPOptions{TLS: serverTLS, ImplicitTLS: c.implicit, Username: "bot", Password: "s3cret"},
				func(host string, port int) intake.SMTPOptions {
					o := intake.SMTPOptions{Host: host, Port: port, TLS: mode, SignIn: signin.Password("bot", "s3cret", false), Timeout: 10 * time.Second}
					if !c.system {
						o.TLSConfig = clientTLS(host, otherRoots)
					}
					return o
				}, nil)
			sent, err := r.d.SendDue(context.Background())
			if err == nil || sent != 0 {
				t.Fatalf("SendDue = %d, %v; want an error", sent, err)
			}
			if intake.Permanent(err) {
				t.Errorf("Permanent(%v) = true; a TLS failure is not an SMTP 5xx", err)
			}
			if n := len(r.smtp.Messages()); n != 0 || r.smtp.Logins() != 0 {
				t.Errorf("%d messages, %d logins; the password must not go to an untrusted server", n, r.smtp.Logins())
			}
			it := r.item()
			if it.Status != store.OutboxQueued || it.Attempts != 0 || !strings.Contains(it.LastError, "certificate") {
				t.Errorf("reply %s, %d attempts, error %q; want queued, no attempt, the certificate named", it.Status, it.Attempts, it.LastError)
			}
			waitFor(t, "the refused connection closed", func() bool { return r.smtp.Sessions() == 0 })
		})
	}
}
