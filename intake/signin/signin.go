// Package signin owns how intake signs in to its mail servers, for IMAP and
// SMTP alike: the SASL mechanisms (PLAIN, XOAUTH2, OAUTHBEARER) and where
// their secrets come from (a password; an OAuth 2.0 access token from an
// identity provider by the client credentials grant, with a client secret
// or a client certificate; a Google service account; a token command; a
// token file). Tokens are cached, fetched again shortly before they expire,
// and dropped when a server refuses them.
//
// A new way of signing in is one new Method constructor here; the IMAP
// dialer and the outbox only ever see a Method.
package signin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// Mechanism names, as servers advertise them (AUTH=XOAUTH2, AUTH XOAUTH2).
const (
	Plain       = "PLAIN"
	Login       = "LOGIN" // IMAP's LOGIN command, not a SASL mechanism
	XOAuth2     = "XOAUTH2"
	OAuthBearer = "OAUTHBEARER"
)

// Method is one way of signing in: a mechanism, a user, and where the
// secret comes from. It is safe for concurrent use.
type Method struct {
	mech     string
	user     string
	password string
	tokens   *Tokens
}

// Password signs in with a password: AUTHENTICATE PLAIN (RFC 4616), or,
// with useLogin, IMAP's LOGIN command.
func Password(user, password string, useLogin bool) *Method {
	mech := Plain
	if useLogin {
		mech = Login
	}
	return &Method{mech: mech, user: user, password: password}
}

// Bearer signs in with an OAuth 2.0 access token from tokens, by the
// mechanism mech: XOAUTH2 (Google, Microsoft) or OAUTHBEARER (RFC 7628).
func Bearer(mech, user string, tokens *Tokens) (*Method, error) {
	mech = strings.ToUpper(mech)
	if mech != XOAuth2 && mech != OAuthBearer {
		return nil, fmt.Errorf("signin: %q is not a bearer-token mechanism (XOAUTH2, OAUTHBEARER)", mech)
	}
	if tokens == nil {
		return nil, errors.New("signin: " + mech + " needs a token source")
	}
	return &Method{mech: mech, user: user, tokens: tokens}, nil
}

// Mechanism is the SASL mechanism (or Login).
func (m *Method) Mechanism() string { return m.mech }

// Username is who signs in.
func (m *Method) Username() string { return m.user }

// Password returns the password of a password method ("" for a bearer one).
func (m *Method) Password() string { return m.password }

// UsesToken reports whether the method sends an OAuth access token.
func (m *Method) UsesToken() bool { return m.tokens != nil }

// Token returns the access token a bearer method would send now (a
// *TokenError when there is none to be had); "" for a password method.
func (m *Method) Token(ctx context.Context) (string, error) {
	if m.tokens == nil {
		return "", nil
	}
	return m.tokens.Token(ctx)
}

// Client returns the SASL client for one sign-in to host:port, fetching
// the access token first where the method needs one. A failure to get the
// token is a *TokenError. For Login it returns an error: the caller sends
// the LOGIN command with Username and Password itself.
func (m *Method) Client(ctx context.Context, host string, port int) (sasl.Client, error) {
	switch m.mech {
	case Plain:
		return sasl.NewPlainClient("", m.user, m.password), nil
	case XOAuth2, OAuthBearer:
		tok, err := m.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		if m.mech == XOAuth2 {
			return &xoauth2{user: m.user, token: tok}, nil
		}
		return oauthBearer{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: m.user, Token: tok, Host: host, Port: port})}, nil
	}
	return nil, fmt.Errorf("signin: %s is not a SASL mechanism", m.mech)
}

// Refused tells the method the server refused what it last sent: a token
// is dropped, so the next sign-in fetches a fresh one (it may have been
// revoked or expired early). A password method has nothing to drop.
func (m *Method) Refused() {
	if m.tokens != nil {
		m.tokens.Invalidate()
	}
}

// xoauth2 is the SASL XOAUTH2 mechanism of Google and Microsoft
// (developers.google.com/gmail/imap/xoauth2-protocol): go-sasl does not
// provide it.
type xoauth2 struct{ user, token string }

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an empty
// response, as the mechanism requires; the command then fails with it.
func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// oauthBearer is go-sasl's OAUTHBEARER client, answering the server's
// error challenge with the dummy response RFC 7628 section 3.2.3 asks for,
// so that the server ends the exchange with its own failure (NO, 535),
// which callers recognise as a refusal; go-sasl's client would abort the
// exchange instead.
type oauthBearer struct{ sasl.Client }

func (o oauthBearer) Next(challenge []byte) ([]byte, error) {
	resp, err := o.Client.Next(challenge)
	var oe *sasl.OAuthBearerError
	if errors.As(err, &oe) {
		return []byte{0x01}, nil
	}
	return resp, err
}
