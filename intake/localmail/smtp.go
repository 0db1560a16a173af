package localmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the SMTP server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // it came over an encrypted connection (implicit TLS or STARTTLS)
	User string // the user who logged in to send it; "" without AUTH
}

// SMTPOptions configures an in-process SMTP server.
type SMTPOptions struct {
	// Reject, when set, is asked before each message is accepted (n counts
	// DATA commands from 1); a returned *smtp.SMTPError with a 4xx code
	// simulates a temporary failure, 5xx a permanent one.
	Reject func(n int, from string, to []string) error
	Addr   string // default 127.0.0.1:0
	// XOAuth2User and XOAuth2Token, when set, make the server require
	// AUTH XOAUTH2 with this token before MAIL FROM.
	XOAuth2User, XOAuth2Token string
	// Bearer, when set, makes the server offer AUTH XOAUTH2 and
	// OAUTHBEARER (RFC 7628) and require one of them, asking Bearer
	// whether the token is good for the user (an introspection endpoint
	// does this for a real server).
	Bearer func(user, token string) bool
	// Username and Password, when set, make the server require AUTH PLAIN
	// with them before MAIL FROM; a wrong password is answered 535 5.7.8
	// (RFC 4954 section 6).
	Username, Password string
	// TLS, when set, holds the server's certificate: the server offers
	// STARTTLS (submission, port 587), or with ImplicitTLS speaks TLS from
	// the first byte (port 465). With TLS set, AUTH is refused until the
	// connection is encrypted, as a real submission server does.
	TLS         *tls.Config
	ImplicitTLS bool
	// MaxSessions, when set, refuses a session past this many open at
	// once (451 to its EHLO), as a server limiting connections per
	// client does.
	MaxSessions int
}

// SMTPServer is a running in-process SMTP server that keeps every message.
type SMTPServer struct {
	Addr string

	opts     SMTPOptions
	srv      *smtp.Server
	done     chan struct{}
	mu       sync.Mutex
	n        int
	logins   int // AUTH exchanges that reached a check of the credentials
	sessions int // sessions open now (a client that never hangs up keeps one)
	quits    int // QUIT commands seen (on connections without TLS)
	msgs     []Received
	changed  chan struct{} // closed and replaced whenever msgs grows
}

// StartSMTP starts an SMTP server on loopback. Close stops it.
func StartSMTP(o SMTPOptions) (*SMTPServer, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ImplicitTLS && o.TLS == nil {
		return nil, fmt.Errorf("localmail: implicit TLS without a certificate (SMTPOptions.TLS)")
	}
	if o.Bearer == nil && o.XOAuth2Token != "" {
		user, token := o.XOAuth2User, o.XOAuth2Token
		o.Bearer = func(u, t string) bool { return u == user && t == token }
	}
	s := &SMTPServer{opts: o, done: make(chan struct{}), changed: make(chan struct{})}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = o.TLS == nil // loopback tests without TLS
	s.srv.MaxMessageBytes = 64 << 20
	if !o.ImplicitTLS {
		s.srv.TLSConfig = o.TLS // offers STARTTLS
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("localmail: listen: %w", err)
	}
	ln = quitListener{ln, s}
	if o.ImplicitTLS {
		ln = tls.NewListener(ln, o.TLS)
	}
	s.Addr = ln.Addr().String()
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server.
func (s *SMTPServer) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Messages returns a copy of what was received so far.
func (s *SMTPServer) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wait returns once at least n messages were received, or when ctx ends.
func (s *SMTPServer) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		msgs, ch := append([]Received(nil), s.msgs...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return msgs, fmt.Errorf("localmail: %d of %d messages received: %w", len(msgs), n, ctx.Err())
		}
	}
}

// Logins returns how many AUTH exchanges reached a check of the
// credentials, right or wrong: 0 means no client ever sent them.
func (s *SMTPServer) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Sessions returns the number of client sessions open now: a session ends
// when its client hangs up (or the server closes).
func (s *SMTPServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Quits returns how many QUIT commands clients sent, on connections
// without TLS (the server reads them off the wire).
func (s *SMTPServer) Quits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quits
}

// quitListener counts the QUIT commands its connections carry.
type quitListener struct {
	net.Listener
	s *SMTPServer
}

func (l quitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &quitConn{Conn: c, s: l.s}, nil
}

type quitConn struct {
	net.Conn
	s    *SMTPServer
	line []byte
}

func (c *quitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, b := range p[:n] {
		if b != '\n' {
			if len(c.line) < 8 {
				c.line = append(c.line, b)
			}
			continue
		}
		if strings.EqualFold(strings.TrimSuffix(string(c.line), "\r"), "QUIT") {
			c.s.mu.Lock()
			c.s.quits++
			c.s.mu.Unlock()
		}
		c.line = c.line[:0]
	}
	return n, err
}

// NewSession implements smtp.Backend.
func (s *SMTPServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	if s.opts.MaxSessions > 0 && s.sessions >= s.opts.MaxSessions {
		s.mu.Unlock()
		return nil, errors.New("too many sessions from this client")
	}
	s.sessions++
	s.mu.Unlock()
	return &smtpSession{srv: s, conn: c}, nil
}

type smtpSession struct {
	srv    *SMTPServer
	conn   *smtp.Conn
	user   string // logged in as; "" before AUTH
	from   string
	to     []string
	closed bool
}

// errBadCredentials is RFC 4954's answer to wrong credentials.
var errBadCredentials = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}

// AuthMechanisms implements smtp.AuthSession: PLAIN and XOAUTH2 when
// configured.
func (ss *smtpSession) AuthMechanisms() []string {
	var mechs []string
	if ss.srv.opts.Username != "" {
		mechs = append(mechs, sasl.Plain)
	}
	if ss.srv.opts.Bearer != nil {
		mechs = append(mechs, "XOAUTH2", sasl.OAuthBearer)
	}
	return mechs
}

// Auth implements smtp.AuthSession.
func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	o := ss.srv.opts
	switch {
	case mech == sasl.Plain && o.Username != "":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			ss.srv.countLogin()
			if (identity != "" && identity != username) || username != o.Username || password != o.Password {
				return errBadCredentials
			}
			ss.user = username
			return nil
		}), nil
	case mech == "XOAUTH2" && o.Bearer != nil:
		return xoauth2Server(func(resp []byte) error {
			ss.srv.countLogin()
			user, auth := parseXOAuth2(resp)
			token, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || !o.Bearer(user, token) {
				return errBadCredentials
			}
			ss.user = user
			return nil
		}), nil
	case mech == sasl.OAuthBearer && o.Bearer != nil:
		return refusal535{sasl.NewOAuthBearerServer(func(opts sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			ss.srv.countLogin()
			if !o.Bearer(opts.Username, opts.Token) {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			ss.user = opts.Username
			return nil
		})}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// refusal535 ends a failed OAUTHBEARER exchange with 535, as a submission
// server does (go-smtp would answer 454, a temporary failure).
type refusal535 struct{ sasl.Server }

func (r refusal535) Next(resp []byte) ([]byte, bool, error) {
	challenge, done, err := r.Server.Next(resp)
	var oe *sasl.OAuthBearerError
	if errors.As(err, &oe) {
		err = errBadCredentials
	}
	return challenge, done, err
}

func (s *SMTPServer) countLogin() {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error {
	if !ss.closed { // go-smtp may log a session out more than once
		ss.closed = true
		ss.srv.mu.Lock()
		ss.srv.sessions--
		ss.srv.mu.Unlock()
	}
	return nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if (ss.srv.opts.Username != "" || ss.srv.opts.Bearer != nil) && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.srv
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	if s.opts.Reject != nil {
		if err := s.opts.Reject(n, ss.from, ss.to); err != nil {
			return err
		}
	}
	_, encrypted := ss.conn.TLSConnectionState()
	s.mu.Lock()
	s.msgs = append(s.msgs, Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data, TLS: encrypted, User: ss.user})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}
