// Package imapbox is intake's side of an IMAP session, and all of it: it
// dials a server and signs in (a signin.Method: a new way of signing in
// changes nothing here), selects the mailbox, searches UIDs, fetches sizes
// and dates, fetches messages whole or header-only (BODY.PEEK, so nothing
// is marked read), files messages (MOVE, or COPY + \Deleted + UID EXPUNGE,
// or only COPY + \Deleted where a plain EXPUNGE would remove what others
// marked), and waits for new mail (IDLE, re-issued before servers drop it
// at 30 minutes, or polling). Each exchange runs under our own deadline, so
// a server that goes silent is noticed and the connection closed.
//
// It decides nothing: which mail to fetch, the cursor, when to file and
// where belong to the daemon (package intake).
package imapbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"intake/intake/signin"
)

// Options say how to reach and sign in to a server.
type Options struct {
	Addr      string      // host:port
	TLS       string      // "tls" (default), "starttls", or "none" (loopback tests only)
	TLSConfig *tls.Config // nil: system roots, ServerName from Addr
	SignIn    *signin.Method
	// Timeout bounds each exchange with the server (default 2 min): a
	// server silent for longer is taken for gone.
	Timeout time.Duration
	// Refused, when set, is told of each sign-in the server refused,
	// before Dial retries with a fresh token.
	Refused func(err error)
}

// MaxIdle is the longest an IDLE command is kept before it is re-issued:
// servers may end an IDLE after 30 minutes (RFC 2177 section 3).
const MaxIdle = 28 * time.Minute

// Conn is a signed-in session. It is not safe for concurrent use.
type Conn struct {
	c       *imapclient.Client
	o       Options
	newMail chan struct{}
}

// SignInError is a sign-in the server refused (Refused), or one that
// could not be made because there was no token (a *signin.TokenError
// inside).
type SignInError struct {
	Err     error
	Refused bool
}

func (e *SignInError) Error() string { return e.Err.Error() }
func (e *SignInError) Unwrap() error { return e.Err }

// Dial connects and signs in. A server that refuses a token is asked once
// more at once with a fresh one (the token may have expired or been
// revoked early). A failure to connect is a plain error; a failure to sign
// in is a *SignInError.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.SignIn == nil {
		return nil, errors.New("imap: no sign-in method")
	}
	for try := 1; ; try++ {
		c, err := dialOnce(ctx, o)
		var se *SignInError
		if err == nil || !errors.As(err, &se) || !se.Refused {
			return c, err
		}
		o.SignIn.Refused()
		if o.Refused != nil {
			o.Refused(err)
		}
		if try > 1 || !o.SignIn.UsesToken() || ctx.Err() != nil {
			return nil, err
		}
	}
}

func dialOnce(ctx context.Context, o Options) (*Conn, error) {
	conn := &Conn{o: o, newMail: make(chan struct{}, 1)}
	tlsConfig := o.TLSConfig
	host, portStr, _ := net.SplitHostPort(o.Addr)
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	opts := &imapclient.Options{
		TLSConfig: tlsConfig,
		Dialer:    &net.Dialer{Timeout: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the reader goroutine: only signal.
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					select {
					case conn.newMail <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	var err error
	switch strings.ToLower(o.TLS) {
	case "", "tls":
		conn.c, err = imapclient.DialTLS(o.Addr, opts)
	case "starttls":
		conn.c, err = imapclient.DialStartTLS(o.Addr, opts)
	case "none":
		conn.c, err = imapclient.DialInsecure(o.Addr, opts)
	default:
		return nil, fmt.Errorf("imap: unknown TLS mode %q", o.TLS)
	}
	if err != nil {
		return nil, fmt.Errorf("imap: connect %s: %w", o.Addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.c.Close() })
	defer stop()
	if err := conn.timed(func() error { return conn.c.WaitGreeting() }); err != nil {
		conn.c.Close()
		return nil, fmt.Errorf("imap: greeting: %w", err)
	}
	port, _ := strconv.Atoi(portStr)
	if err := conn.signIn(ctx, host, port); err != nil {
		conn.c.Close()
		return nil, err
	}
	return conn, nil
}

// signIn authenticates with the method: AUTHENTICATE where the server
// offers the mechanism, the LOGIN command for Login (never where the
// server advertises LOGINDISABLED: the password is not sent).
func (conn *Conn) signIn(ctx context.Context, host string, port int) error {
	m := conn.o.SignIn
	c := conn.c
	caps := c.Caps()
	mech := m.Mechanism()
	fail := func(refused bool, err error) error {
		return &SignInError{Refused: refused, Err: fmt.Errorf("imap: sign in as %s (%s): %w", m.Username(), mech, err)}
	}
	var err error
	switch {
	case mech == signin.Plain && !caps.Has(imap.AuthCap(mech)):
		// A server that offers no AUTHENTICATE PLAIN gets the LOGIN command.
		mech = signin.Login
		fallthrough
	case mech == signin.Login:
		if caps.Has(imap.CapLoginDisabled) {
			return fail(false, errors.New("the server refuses LOGIN (LOGINDISABLED), so the password was not sent (is TLS off?)"))
		}
		err = conn.timed(func() error { return c.Login(m.Username(), m.Password()).Wait() })
	default:
		if !caps.Has(imap.AuthCap(mech)) {
			return fail(false, fmt.Errorf("the server does not offer AUTHENTICATE %s (it offers %s)", mech, authCaps(caps)))
		}
		client, cerr := m.Client(ctx, host, port)
		if cerr != nil {
			return &SignInError{Err: fmt.Errorf("imap: sign in as %s: %w", m.Username(), cerr)}
		}
		err = conn.timed(func() error { return c.Authenticate(client) })
	}
	if err != nil {
		// A NO (or BAD) answer is the server's verdict on our
		// credentials; anything else (the connection lost) is not.
		var ie *imap.Error
		return fail(errors.As(err, &ie), err)
	}
	return nil
}

func authCaps(caps imap.CapSet) string {
	var out []string
	for c := range caps {
		if s, ok := strings.CutPrefix(string(c), "AUTH="); ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Close ends the session (without LOGOUT: the daemon only closes a
// session that broke or that it stops).
func (conn *Conn) Close() error { return conn.c.Close() }

// Closed is closed when the connection is.
func (conn *Conn) Closed() <-chan struct{} { return conn.c.Closed() }

// Has reports whether the server advertises a capability.
func (conn *Conn) Has(c imap.Cap) bool { return conn.c.Caps().Has(c) }

// timed runs an exchange and closes the connection when the server does
// not answer within Timeout (the library sets no deadline of its own on a
// response's first byte).
func (conn *Conn) timed(fn func() error) error {
	timeout := conn.o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	t := time.AfterFunc(timeout, func() { conn.c.Close() })
	defer t.Stop()
	err := fn()
	if err != nil && !t.Stop() {
		return fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return err
}
