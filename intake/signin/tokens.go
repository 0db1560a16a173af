package signin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Fetcher gets a new access token each time it is called. A token with
// a zero Expiry is used once: the next sign-in calls the fetcher again (a
// token file or command, which keep their own).
type Fetcher func(ctx context.Context) (*oauth2.Token, error)

// Tokens hands out an access token, fetching a new one when there is none,
// when the one held expires within Early, or after Invalidate. It is safe
// for concurrent use; concurrent callers share one fetch.
type Tokens struct {
	fetch Fetcher
	early time.Duration
	now   func() time.Time

	mu     sync.Mutex
	tok    *oauth2.Token
	expiry time.Time // by our clock; zero: use the token once
}

// TokensOptions tune a Tokens; the zero value is the default.
type TokensOptions struct {
	// Early: a token this close to its expiry is replaced before use
	// (default 5 minutes: a token lives about an hour at Microsoft and
	// Google, and a sign-in must not race its expiry).
	Early time.Duration
	Now   func() time.Time // default time.Now
}

// NewTokens caches the tokens fetch returns.
func NewTokens(fetch Fetcher, o TokensOptions) *Tokens {
	if o.Early <= 0 {
		o.Early = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tokens{fetch: fetch, early: o.Early, now: o.Now}
}

// Token returns a valid access token. A failure is a *TokenError.
func (t *Tokens) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && !t.expiry.IsZero() && t.now().Add(t.early).Before(t.expiry) {
		return t.tok.AccessToken, nil
	}
	tok, err := t.fetch(ctx)
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = errors.New("the token source returned no access token")
	}
	if err != nil {
		t.tok = nil
		var te *TokenError
		if errors.As(err, &te) {
			return "", err
		}
		return "", &TokenError{Err: err, Refused: refusedByProvider(err)}
	}
	t.tok = tok
	// The lifetime the provider gave, counted on our clock from now
	// (expires_in, RFC 6749 section 5.1), else the token's own expiry.
	t.expiry = tok.Expiry
	if in := expiresIn(tok); in > 0 {
		t.expiry = t.now().Add(in)
	}
	return tok.AccessToken, nil
}

// Invalidate drops the token held: the next Token fetches a new one.
func (t *Tokens) Invalidate() {
	t.mu.Lock()
	t.tok = nil
	t.mu.Unlock()
}

// TokenError is a failure to get an access token: the identity provider
// refused our client (Refused: a wrong secret, an expired certificate, a
// revoked grant; waiting will not help) or could not be reached, or the
// token command failed.
type TokenError struct {
	Err     error
	Refused bool
}

func (e *TokenError) Error() string {
	if e.Refused {
		return fmt.Sprintf("oauth: the identity provider refused our client: %v", e.Err)
	}
	return fmt.Sprintf("oauth: no access token: %v", e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// refusedByProvider: a 4xx answer of the token endpoint (RFC 6749 section
// 5.2: invalid_client, unauthorized_client, invalid_grant, ...) is a
// verdict on our credentials; a 5xx or a network error is not.
func refusedByProvider(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			return re.Response.StatusCode >= 400 && re.Response.StatusCode < 500
		}
		return re.ErrorCode != ""
	}
	return false
}

// expiresIn is the token's lifetime as the provider sent it (some of
// x/oauth2's grants keep it only among the raw fields), or 0.
func expiresIn(tok *oauth2.Token) time.Duration {
	if tok.ExpiresIn > 0 {
		return time.Duration(tok.ExpiresIn) * time.Second
	}
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		return time.Duration(v * float64(time.Second))
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}
