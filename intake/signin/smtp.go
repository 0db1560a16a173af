package signin

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/emersion/go-sasl"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// SMTPAuth is the method as go-mail's SMTP authentication, for one
// sign-in to host:port (the token is fetched now). started reports, once
// the connection is made or failed, whether AUTH was sent: an SMTP error
// after it is the server's verdict on our credentials.
func (m *Method) SMTPAuth(ctx context.Context, host string, port int) (auth mailsmtp.Auth, started func() bool, err error) {
	if m.mech == Login {
		return nil, nil, errors.New("signin: SMTP has no LOGIN command: use PLAIN")
	}
	c, err := m.Client(ctx, host, port)
	if err != nil {
		return nil, nil, err
	}
	a := &smtpAuth{c: c}
	return a, a.started.Load, nil
}

// smtpAuth runs a SASL client as SMTP AUTH (RFC 4954).
type smtpAuth struct {
	c       sasl.Client
	started atomic.Bool
}

func (a *smtpAuth) Start(*mailsmtp.ServerInfo) (string, []byte, error) {
	a.started.Store(true)
	return a.c.Start()
}

func (a *smtpAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	return a.c.Next(fromServer)
}
