package signin

import (
	"context"
	"errors"

	"github.com/emersion/go-sasl"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// SMTPAuth is the method as go-mail's SMTP authentication, for one
// sign-in to host:port (the token is fetched now).
func (m *Method) SMTPAuth(ctx context.Context, host string, port int) (mailsmtp.Auth, error) {
	if m.mech == Login {
		return nil, errors.New("signin: SMTP has no LOGIN command: use PLAIN")
	}
	c, err := m.Client(ctx, host, port)
	if err != nil {
		return nil, err
	}
	return smtpAuth{c}, nil
}

// smtpAuth runs a SASL client as SMTP AUTH (RFC 4954).
type smtpAuth struct{ c sasl.Client }

func (a smtpAuth) Start(*mailsmtp.ServerInfo) (string, []byte, error) { return a.c.Start() }

func (a smtpAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	return a.c.Next(fromServer)
}
