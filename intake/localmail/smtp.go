package localmail

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the SMTP server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
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
}

// SMTPServer is a running in-process SMTP server that keeps every message.
type SMTPServer struct {
	Addr string

	opts    SMTPOptions
	srv     *smtp.Server
	done    chan struct{}
	mu      sync.Mutex
	n       int
	msgs    []Received
	changed chan struct{} // closed and replaced whenever msgs grows
}

// StartSMTP starts an SMTP server on loopback. Close stops it.
func StartSMTP(o SMTPOptions) (*SMTPServer, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s := &SMTPServer{opts: o, done: make(chan struct{}), changed: make(chan struct{})}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 64 << 20
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("localmail: listen: %w", err)
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

// NewSession implements smtp.Backend.
func (s *SMTPServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{srv: s}, nil
}

type smtpSession struct {
	srv    *SMTPServer
	authed bool
	from   string
	to     []string
}

// AuthMechanisms implements smtp.AuthSession: XOAUTH2 when configured.
func (ss *smtpSession) AuthMechanisms() []string {
	if ss.srv.opts.XOAuth2Token == "" {
		return nil
	}
	return []string{"XOAUTH2"}
}

// Auth implements smtp.AuthSession.
func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" || ss.srv.opts.XOAuth2Token == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return xoauth2Server(func(resp []byte) error {
		if user, auth := parseXOAuth2(resp); user != ss.srv.opts.XOAuth2User || auth != "Bearer "+ss.srv.opts.XOAuth2Token {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.XOAuth2Token != "" && !ss.authed {
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
	s.mu.Lock()
	s.msgs = append(s.msgs, Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}
