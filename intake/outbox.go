package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"

	"intake/intake/signin"
	"intake/store"
)

// SMTPOptions say how replies leave.
type SMTPOptions struct {
	Host      string
	Port      int
	TLS       string      // "starttls" (default), "tls", or "none" (loopback tests only)
	TLSConfig *tls.Config // nil: system roots, ServerName = Host
	// SignIn is how to authenticate (AUTH PLAIN, XOAUTH2, OAUTHBEARER);
	// nil: no authentication.
	SignIn  *signin.Method
	HELO    string
	Timeout time.Duration // default 1 min
	// Connections bounds the sessions replies are sent over side by
	// side (default 3); the replies to one address go over one, in order.
	Connections int
}

const (
	// outboxBatch bounds the replies sent per round.
	outboxBatch = 50
	// claimChunk is how many replies of a session are claimed in one
	// write: a few writes where one a reply had the queue wait on the
	// store's writer behind the deciding workers, and few enough that a
	// stop leaves little claimed and unsent (it waits for its next
	// attempt time).
	claimChunk = 10
	// defaultSMTPConnections: a reply's round trips to the server, not
	// the work, bound how many go out a second over one session.
	defaultSMTPConnections = 3
)

// RunOutbox sends due replies until ctx ends. It sleeps until the next
// reply is due or until it is kicked (new replies queued). While the SMTP
// server cannot be reached or refuses our login, it backs off, and the
// replies wait without losing any of their attempts.
func (d *Daemon) RunOutbox(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		_, err := d.SendDue(ctx)
		wait := d.o.PollInterval
		switch {
		case errors.Is(err, errSMTPUnavailable):
			failures++
			wait = d.o.Backoff(failures)
			d.metrics.SMTPUnavailable.Inc()
			if Permanent(err) {
				// A 5xx to our login: waiting will not help; the operator must.
				d.log.Error("outbox: the SMTP server refuses our login: fix the smtp credentials; replies wait", "err", err, "retry_in", wait)
			} else {
				d.log.Warn("outbox: SMTP server unavailable, replies wait", "err", err, "retry_in", wait)
			}
		case err != nil && ctx.Err() == nil:
			d.log.Error("outbox: round failed", "err", err)
		default:
			failures = 0
			if next, ok, err := d.o.Store.NextReplyDue(ctx); err == nil && ok {
				wait = min(wait, max(next.Sub(d.o.Now()), 0))
			}
		}
		kick := d.kick
		if failures > 0 {
			kick = nil // new replies do not cut a backoff short
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// errSMTPUnavailable: the SMTP server could not be reached, or refused our
// login. No reply is at fault, so none is charged an attempt.
var errSMTPUnavailable = errors.New("outbox: SMTP server unavailable")

// SendDue sends every reply that is due, over up to SMTP.Connections
// sessions side by side, the replies to one address over one session in
// their order. Each attempt is recorded with its next attempt time before
// the message is sent, so a crash mid-send cannot cause a retry storm; a
// reply interrupted after the server took it may go out twice, with the
// same Message-ID. When no session can be opened (the connection or the
// login fails) it returns an error wrapping errSMTPUnavailable and leaves
// every reply as it was.
func (d *Daemon) SendDue(ctx context.Context) (sent int, err error) {
	items, err := d.o.Store.DueReplies(ctx, d.o.Now(), outboxBatch)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	// The outcomes these replies report are made durable before the
	// agency is told of them.
	if err := d.o.Store.Sync(); err != nil {
		return 0, err
	}
	// What the server was told is recorded even when a stop was asked for
	// meanwhile, or the reply would go out again on restart.
	book := context.WithoutCancel(ctx)
	clients, err := d.dialSessions(ctx, min(len(items), d.o.SMTP.Connections))
	if err != nil {
		err = fmt.Errorf("%w: %w", errSMTPUnavailable, err)
		if ctx.Err() == nil {
			d.noteWaiting(book, items, err)
		}
		return 0, err
	}
	lanes := make([][]store.OutboxItem, len(clients))
	for _, it := range items {
		h := fnv.New32a()
		for _, to := range it.To {
			h.Write([]byte(strings.ToLower(to)))
		}
		i := int(h.Sum32() % uint32(len(clients)))
		lanes[i] = append(lanes[i], it)
	}
	sents := make([]int, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { sents[i], errs[i] = d.sendSession(ctx, book, c, lanes[i]) })
	}
	wg.Wait()
	for _, n := range sents {
		sent += n
	}
	return sent, errors.Join(errs...)
}

// dialSessions opens n sessions, at least one: an error when not even one
// can be opened. A server that takes fewer (a limit on connections per
// client) gets the replies over those it took.
func (d *Daemon) dialSessions(ctx context.Context, n int) ([]*mailsmtp.Client, error) {
	first, err := d.dialSMTP(ctx)
	if err != nil {
		return nil, err
	}
	more := make([]*mailsmtp.Client, max(n-1, 0))
	var wg sync.WaitGroup
	for i := range more {
		wg.Go(func() {
			c, _, err := d.dialSMTPOnce(ctx)
			if err != nil {
				d.log.Debug("outbox: one session fewer", "err", err)
				return
			}
			more[i] = c
		})
	}
	wg.Wait()
	clients := []*mailsmtp.Client{first}
	for _, c := range more {
		if c != nil {
			clients = append(clients, c)
		}
	}
	return clients, nil
}

// sendSession sends items over one session, claiming them claimChunk at a
// time, and ends the session with QUIT (RFC 5321 section 4.1.1.10), so the
// server logs a clean end rather than a lost connection.
func (d *Daemon) sendSession(ctx context.Context, book context.Context, client *mailsmtp.Client, items []store.OutboxItem) (sent int, err error) {
	defer func() {
		if client != nil && client.Quit() != nil {
			client.Close()
		}
	}()
	for len(items) > 0 {
		chunk := items[:min(len(items), claimChunk)]
		items = items[len(chunk):]
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		claims := make([]store.Claim, len(chunk))
		for i, it := range chunk {
			claims[i] = store.Claim{ID: it.ID, Next: d.o.Now().Add(d.o.Backoff(it.Attempts + 1))}
		}
		attempts, err := d.o.Store.ClaimReplies(ctx, claims)
		if err != nil {
			return sent, err
		}
		for i, it := range chunk {
			if attempts[i] == 0 {
				continue // held, or done, since it was listed: not to be sent
			}
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
			log := d.log.With("reply", it.MessageID, "kind", it.Kind, "attempt", attempts[i])
			// Each reply has the whole timeout: a session sends many.
			sendErr := client.UpdateDeadline(orDefault(d.o.SMTP.Timeout, time.Minute))
			if sendErr == nil {
				sendErr = sendRaw(client, it)
			}
			if sendErr == nil {
				d.failpoint(PointSent, 0)
				if err := d.o.Store.ReplySent(book, it.ID, d.o.Now()); err != nil {
					return sent, err
				}
				sent++
				d.metrics.RepliesSent.WithLabelValues(it.Kind).Inc()
				log.Info("outbox: sent", "to", len(it.To))
				continue
			}
			permanent := Permanent(sendErr)
			reason := sendErr.Error()
			if !permanent && attempts[i] >= d.o.MaxSendTries {
				permanent = true
				reason = fmt.Sprintf("gave up after %d attempts: %s", attempts[i], reason)
			}
			if err := d.o.Store.ReplyFailed(book, it.ID, reason, permanent); err != nil {
				return sent, err
			}
			d.metrics.SendFailures.WithLabelValues(map[bool]string{true: "permanent", false: "temporary"}[permanent]).Inc()
			log.Warn("outbox: send failed", "err", sendErr, "permanent", permanent)
			// Start the next message on a clean transaction, or on a fresh
			// session when this one is broken.
			if client.Reset() != nil {
				client.Close()
				if client, err = d.dialSMTP(ctx); err != nil {
					client = nil
					return sent, fmt.Errorf("%w: %w", errSMTPUnavailable, err)
				}
			}
		}
	}
	return sent, nil
}

// noteWaiting records on each reply why it was not sent, without charging
// it an attempt, so that the dashboard and `intake show` say why replies
// wait. A login the server refuses with 5xx (535, RFC 4954 section 6) is
// permanent by Permanent: the same credentials will be refused again. It
// is still not the replies' fault: they wait for the operator to fix the
// credentials.
func (d *Daemon) noteWaiting(ctx context.Context, items []store.OutboxItem, err error) {
	reason := "not sent yet, will retry: " + err.Error()
	if Permanent(err) {
		reason = "not sent yet, waiting for the SMTP settings to be fixed: " + err.Error()
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if err := d.o.Store.RepliesWaiting(ctx, ids, reason); err != nil {
		d.log.Error("outbox: record why replies wait", "err", err)
	}
}

// Permanent decides, in one place, whether a send error is final: only an
// SMTP 5xx reply is. Network errors and 4xx replies are retried (go-mail's
// own IsTemp reports network errors as permanent, which they are not).
// A 5xx refusal of our login (535) is permanent too, but it is the
// server's verdict on our credentials, not on a reply: SendDue leaves the
// replies queued (see noteWaiting).
func Permanent(err error) bool {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode() >= 500
	}
	return false
}

// sendRaw sends the stored bytes as they are: the reply was built once,
// when it was queued, and every attempt sends the same message. The DATA
// writer does the dot-stuffing and CRLF line endings.
func sendRaw(c *mailsmtp.Client, it store.OutboxItem) error {
	if err := c.Mail(it.From); err != nil {
		return err
	}
	for _, to := range it.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(it.Raw); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// dialSMTP connects and signs in. A server that refuses a token is asked
// once more at once with a fresh one (the token may have expired or been
// revoked early); a refusal, or a token the identity provider will not
// give, is recorded (signinFailed) and makes the daemon unhealthy until a
// sign-in succeeds.
func (d *Daemon) dialSMTP(ctx context.Context) (*mailsmtp.Client, error) {
	m := d.o.SMTP.SignIn
	for try := 1; ; try++ {
		c, refused, err := d.dialSMTPOnce(ctx)
		if err == nil {
			if m != nil {
				d.signedIn("smtp")
			}
			return c, nil
		}
		var te *signin.TokenError
		switch {
		case refused:
			m.Refused()
			d.signinFailed("smtp", err)
			if try == 1 && m.UsesToken() && ctx.Err() == nil {
				d.log.Info("smtp: signing in again with a fresh access token")
				continue
			}
		case errors.As(err, &te):
			d.signinFailed("smtp", err)
		}
		return nil, err
	}
}

// dialSMTPOnce connects and signs in once; refused reports that the
// server refused our credentials.
func (d *Daemon) dialSMTPOnce(ctx context.Context) (c *mailsmtp.Client, refused bool, err error) {
	o := d.o.SMTP
	opts := []mail.Option{mail.WithPort(o.Port), mail.WithTimeout(orDefault(o.Timeout, time.Minute))}
	tlsConfig := o.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: o.Host, MinVersion: tls.VersionTLS12}
	}
	switch strings.ToLower(o.TLS) {
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tlsConfig))
	case "tls":
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tlsConfig))
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, false, fmt.Errorf("smtp: unknown TLS mode %q", o.TLS)
	}
	if o.HELO != "" {
		opts = append(opts, mail.WithHELO(o.HELO))
	}
	authStarted := func() bool { return false }
	if o.SignIn != nil {
		auth, started, err := o.SignIn.SMTPAuth(ctx, o.Host, o.Port)
		if err != nil {
			return nil, false, fmt.Errorf("smtp: sign in as %s: %w", o.SignIn.Username(), err)
		}
		authStarted = started
		opts = append(opts, mail.WithSMTPAuthCustom(auth))
	}
	// go-mail leaves the connection open when the greeting, STARTTLS or
	// the login fails after it connected: keep hold of what we dial, and
	// close it then, or every failed round leaves a socket behind (and a
	// session open at the server).
	var conns []net.Conn
	implicit := strings.EqualFold(o.TLS, "tls")
	opts = append(opts, mail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var c net.Conn
		var err error
		if implicit {
			c, err = (&tls.Dialer{NetDialer: nd, Config: tlsConfig}).DialContext(ctx, network, addr)
		} else {
			c, err = nd.DialContext(ctx, network, addr)
		}
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}))
	mc, err := mail.NewClient(o.Host, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("smtp: %w", err)
	}
	c, err = mc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		for _, conn := range conns {
			conn.Close()
		}
		// An SMTP error once AUTH was sent is the server's verdict on our
		// credentials (535, RFC 4954 section 6); a 4xx there (454) is a
		// temporary failure of the server, not a refusal.
		var te *textproto.Error
		refused = authStarted() && errors.As(err, &te) && te.Code >= 500
		if refused {
			return nil, true, fmt.Errorf("smtp: %s:%d refused our sign-in (%s as %s): %w", o.Host, o.Port, o.SignIn.Mechanism(), o.SignIn.Username(), err)
		}
		return nil, false, fmt.Errorf("smtp: connect %s:%d: %w", o.Host, o.Port, err)
	}
	return c, false, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
