package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"intake/intake/signin"
)

// bearer reports whether auth signs in with an access token.
func bearer(auth string) bool { return auth == "xoauth2" || auth == "oauthbearer" }

// validateSignIn checks how each server signs in: a bearer mechanism
// needs one source of tokens, and an oauth client what its provider needs.
func (c *Config) validateSignIn() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, s := range []struct {
		name, auth, file, command, env string
	}{
		{"imap", c.IMAP.Auth, c.IMAP.TokenFile, c.IMAP.TokenCommand, "INTAKE_IMAP_TOKEN"},
		{"smtp", c.SMTP.Auth, c.SMTP.TokenFile, c.SMTP.TokenCommand, "INTAKE_SMTP_TOKEN"},
	} {
		if s.file != "" && s.command != "" {
			bad("%s.token_file and %s.token_command: set one of them", s.name, s.name)
		}
		if !bearer(s.auth) {
			if s.file != "" || s.command != "" {
				bad("%s.token_file / token_command: only used with %s.auth xoauth2 or oauthbearer (auth is %q)", s.name, s.name, s.auth)
			}
			continue
		}
		if s.file == "" && s.command == "" && !c.OAuth.set() && os.Getenv(s.env) == "" {
			bad("%s.auth %s needs an access token: an oauth client, %s.token_command, %s.token_file or $%s", s.name, s.auth, s.name, s.name, s.env)
		}
	}
	if c.OAuth.set() {
		errs = append(errs, c.OAuth.validate()...)
	}
	return errs
}

func (o OAuthConfig) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch o.provider() {
	case "google":
		if o.ServiceAccount == "" {
			bad("oauth.provider google needs oauth.service_account_file (the service account's JSON key)")
		}
		if o.ClientSecret != "" || o.CertificateFile != "" {
			bad("oauth.provider google signs with the service account's key: leave out client_secret and certificate_file")
		}
	case "entra", "other":
		if o.provider() == "entra" && o.Tenant == "" && o.TokenURL == "" {
			bad("oauth.provider entra needs oauth.tenant (the directory's id or domain)")
		}
		if o.provider() == "other" && o.TokenURL == "" {
			bad("oauth: token_url is required (or provider entra with a tenant, or google)")
		}
		if o.ClientID == "" {
			bad("oauth.client_id is required (the app registration's application id)")
		}
		if (o.ClientSecret == "") == (o.CertificateFile == "") {
			bad("oauth: set one of client_secret (or client_secret_file, $INTAKE_OAUTH_CLIENT_SECRET) and certificate_file")
		}
	default:
		bad("oauth.provider: %q is not one of entra, google, other", o.Provider)
	}
	return errs
}

// provider is the provider named, or the one the other settings imply.
func (o OAuthConfig) provider() string {
	switch {
	case o.Provider != "":
		return o.Provider
	case o.ServiceAccount != "":
		return "google"
	case o.Tenant != "":
		return "entra"
	}
	return "other"
}

// signIns makes the servers' sign-in methods. Servers that get tokens
// from the same client for the same user share them (one token for IMAP
// and SMTP of an Entra app; one per mailbox user of a Google account).
type signIns struct {
	oauth  OAuthConfig
	tokens map[string]*signin.Tokens
}

func newSignIns(o OAuthConfig) *signIns {
	return &signIns{oauth: o, tokens: map[string]*signin.Tokens{}}
}

// method is the sign-in of one server: server names its environment
// variable (INTAKE_IMAP_TOKEN, INTAKE_SMTP_TOKEN). auth "" means plain.
func (s *signIns) method(server, auth, user, password, tokenFile, tokenCommand string) (*signin.Method, error) {
	switch auth {
	case "", "plain":
		return signin.Password(user, password, false), nil
	case "login":
		return signin.Password(user, password, true), nil
	}
	var tokens *signin.Tokens
	switch {
	case tokenCommand != "":
		tokens = signin.NewTokens(signin.Command(tokenCommand, 0, nil), signin.TokensOptions{})
	case tokenFile != "" || !s.oauth.set():
		tokens = signin.NewTokens(signin.File(tokenFile, "INTAKE_"+strings.ToUpper(server)+"_TOKEN"), signin.TokensOptions{})
	default:
		var err error
		if tokens, err = s.oauthTokens(user); err != nil {
			return nil, err
		}
	}
	return signin.Bearer(auth, user, tokens)
}

// oauthTokens are the oauth client's tokens for user.
func (s *signIns) oauthTokens(user string) (*signin.Tokens, error) {
	o := s.oauth
	key := ""
	if o.provider() == "google" {
		key = user // a token acts as one user
	}
	if t, ok := s.tokens[key]; ok {
		return t, nil
	}
	var fetch signin.Fetcher
	var err error
	switch o.provider() {
	case "google":
		keyJSON, rerr := os.ReadFile(o.ServiceAccount)
		if rerr != nil {
			return nil, fmt.Errorf("oauth.service_account_file: %w", rerr)
		}
		fetch, err = signin.ServiceAccount{KeyJSON: keyJSON, Subject: user, Scopes: o.Scopes, TokenURL: o.TokenURL}.Fetcher()
	default:
		cc := signin.ClientCredentials{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes}
		if cc.TokenURL == "" {
			cc.TokenURL = signin.EntraTokenURL(o.Tenant)
		}
		if o.CertificateFile != "" {
			keyFile := o.KeyFile
			if keyFile == "" {
				keyFile = o.CertificateFile
			}
			cert, lerr := tls.LoadX509KeyPair(o.CertificateFile, keyFile)
			if lerr != nil {
				return nil, fmt.Errorf("oauth.certificate_file: %w", lerr)
			}
			cc.Certificate = &cert
		}
		fetch, err = cc.Fetcher()
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	if fetch == nil {
		return nil, errors.New("oauth: no token source")
	}
	t := signin.NewTokens(fetch, signin.TokensOptions{})
	s.tokens[key] = t
	return t, nil
}
