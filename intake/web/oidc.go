package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC is sign-in through an OpenID Connect provider (OPM's identity
// provider): the authorization code flow with PKCE, a nonce and a state
// bound to the browser, the ID token verified against the provider's
// keys. The role, and the grants of calls holding personal data, come
// from claims of the ID token (or, when it lacks the role claim, of the
// userinfo answer).
type OIDC struct {
	Issuer       string // the provider's issuer URL (its discovery document is under it)
	ClientID     string
	ClientSecret string
	// RedirectURL is this dashboard's callback as the browser reaches it,
	// registered at the provider: https://HOST/auth/callback.
	RedirectURL string
	// Scopes asked beside openid; default profile and email.
	Scopes []string
	// RolesClaim names the claim holding the user's roles (a string or a
	// list of strings); default "roles". The highest role named wins; a
	// user with none of them is refused.
	RolesClaim string
	// RoleValues maps a value of the roles claim to a role; default
	// "viewer", "analyst" and "admin" to theirs (and "intake-viewer",
	// "intake-analyst", "intake-admin").
	RoleValues map[string]Role
	// GrantsClaim names the claim listing the data calls holding personal
	// data whose records the user may see; default "intake_grants". A
	// value that names no call is ignored (and logged).
	GrantsClaim string
	// NameClaim names the claim shown and audited as the user's name;
	// default preferred_username, else email, else the subject.
	NameClaim string
	// HTTPClient talks to the provider; nil: one with a 10 s timeout.
	HTTPClient *http.Client
}

// defaultRoleValues are the claim values understood without RoleValues.
var defaultRoleValues = map[string]Role{
	"viewer": RoleViewer, "analyst": RoleAnalyst, "admin": RoleAdmin,
	"intake-viewer": RoleViewer, "intake-analyst": RoleAnalyst, "intake-admin": RoleAdmin,
}

func (o *OIDC) validate() error {
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("web: oidc: the issuer is required"))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("web: oidc: the client id is required"))
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || !u.IsAbs() || u.Path != "/auth/callback" {
		errs = append(errs, fmt.Errorf("web: oidc: the redirect URL %q must be this dashboard's absolute URL ending in /auth/callback", o.RedirectURL))
	}
	for v, r := range o.RoleValues {
		if _, ok := roleNames[r]; !ok {
			errs = append(errs, fmt.Errorf("web: oidc: role value %q maps to no role", v))
		}
	}
	return errors.Join(errs...)
}

// oidcClient is the relying party; the provider's discovery document is
// fetched at the first sign-in (and again after a failure), so the
// dashboard starts while the provider is down.
type oidcClient struct {
	cfg      OIDC
	client   *http.Client
	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(cfg OIDC) (*oidcClient, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.GrantsClaim == "" {
		cfg.GrantsClaim = "intake_grants"
	}
	if cfg.RoleValues == nil {
		cfg.RoleValues = defaultRoleValues
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"profile", "email"}
	}
	c := &oidcClient{cfg: cfg, client: cfg.HTTPClient}
	if c.client == nil {
		c.client = &http.Client{Timeout: 10 * time.Second}
	}
	return c, nil
}

// discover returns the provider, fetching its discovery document once.
func (c *oidcClient) discover() (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	// The provider keeps this context for fetching its keys later: it must
	// outlive the request, and the client's timeout bounds each fetch.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), c.client), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("web: oidc: discovery at %s: %w", c.cfg.Issuer, err)
	}
	c.provider = p
	return p, nil
}

func (c *oidcClient) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: c.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, c.cfg.Scopes...)}
}

const stateCookie = "intake-oidc-state"

// oidcStart: GET /login/oidc?next=PATH sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	p, err := s.oidc.discover()
	if err != nil {
		s.log.Error("web: sign-in", "err", err)
		http.Error(w, "the identity provider cannot be reached; try again in a minute", http.StatusBadGateway)
		return
	}
	state, nonce, verifier := randomID(), randomID(), oauth2.GenerateVerifier()
	s.sessions.begin(state, pending{nonce: nonce, verifier: verifier, next: localPath(r.URL.Query().Get("next")),
		expires: s.o.Now().Add(pendingLifetime)})
	// The state is also bound to this browser: a callback carrying a state
	// that another browser began is refused (login CSRF).
	s.setCookie(w, r, stateCookie, state, pendingLifetime)
	http.Redirect(w, r, s.oidc.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// oidcCallback: GET /auth/callback?code=&state=, the provider's answer.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	refuse := func(why string, err error) {
		s.log.Warn("web: sign-in refused", "reason", why, "err", err, "client", clientAddr(r, s.o.BehindTLSProxy))
		s.render(w, r, "login", loginView{page: page{Title: "Sign in"}, OIDC: true, Basic: len(s.signIn.accounts) > 0,
			Error: "Sign-in failed: " + why + "."}, http.StatusForbidden)
	}
	if e := q.Get("error"); e != "" {
		refuse("the identity provider said "+e, errors.New(q.Get("error_description")))
		return
	}
	c, err := r.Cookie(stateCookie)
	state := q.Get("state")
	if err != nil || state == "" || c.Value != state {
		refuse("this sign-in was not started in this browser", err)
		return
	}
	s.setCookie(w, r, stateCookie, "", -1)
	pend, ok := s.sessions.finish(state, s.o.Now())
	if !ok {
		refuse("the sign-in took too long or was already used", nil)
		return
	}
	prov, err := s.oidc.discover()
	if err != nil {
		refuse("the identity provider cannot be reached", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), s.oidc.client)
	tok, err := s.oidc.oauth(prov).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pend.verifier))
	if err != nil {
		refuse("the identity provider did not confirm it", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.o.Now}).Verify(ctx, rawID)
	if err != nil {
		refuse("the identity token is not valid", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.nonce)) != 1 {
		refuse("the identity token is not for this sign-in", errors.New("nonce mismatch"))
		return
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		refuse("the identity token is not readable", err)
		return
	}
	_, hasRoles := claims[s.oidc.cfg.RolesClaim]
	if (!hasRoles || !hasName(claims, s.oidc.cfg.NameClaim)) && prov.UserInfoEndpoint() != "" {
		ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			refuse("the identity provider did not say who you are", err)
			return
		}
		if ui.Subject != idt.Subject {
			refuse("the identity provider's answers disagree", errors.New("userinfo subject differs from the ID token's"))
			return
		}
		more := map[string]any{}
		if err := ui.Claims(&more); err != nil {
			refuse("the identity provider's answer is not readable", err)
			return
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	p, why := s.principalFromClaims(claims, idt.Subject)
	if p == nil {
		refuse(why, nil)
		return
	}
	id, _ := s.sessions.start(p, s.o.Now())
	s.setCookie(w, r, s.sessionCookie(r), id, sessionLifetime)
	s.log.Info("web: signed in", "user", p.Name, "role", p.Role.String(), "via", "oidc", "client", clientAddr(r, s.o.BehindTLSProxy))
	http.Redirect(w, r, pend.next, http.StatusSeeOther)
}

// nameClaims are the claims a user's name is read from, in order.
func nameClaims(nameClaim string) []string {
	return []string{nameClaim, "preferred_username", "email"}
}

func hasName(claims map[string]any, nameClaim string) bool {
	for _, k := range nameClaims(nameClaim) {
		if v, ok := claims[k].(string); ok && k != "" && v != "" {
			return true
		}
	}
	return false
}

// principalFromClaims makes the signed-in user from the provider's
// claims; nil and why when the claims give no role.
func (s *Server) principalFromClaims(claims map[string]any, subject string) (*principal, string) {
	cfg := s.oidc.cfg
	name := ""
	for _, k := range nameClaims(cfg.NameClaim) {
		if v, ok := claims[k].(string); ok && k != "" && v != "" {
			name = v
			break
		}
	}
	if name == "" {
		name = subject
	}
	p := &principal{Name: name, grants: map[string]bool{}}
	for _, v := range claimStrings(claims[cfg.RolesClaim]) {
		if r, ok := cfg.RoleValues[v]; ok && r > p.Role {
			p.Role = r
		}
	}
	if p.Role == 0 {
		s.log.Warn("web: sign-in without a role", "user", name, "claim", cfg.RolesClaim)
		return nil, "your account has no role for this dashboard (ask for viewer, analyst or admin)"
	}
	for _, g := range claimStrings(claims[cfg.GrantsClaim]) {
		if s.o.Calls.Get(g) == nil {
			s.log.Warn("web: sign-in: a grant names no data call", "user", name, "grant", g)
			continue
		}
		p.grants[g] = true
	}
	return p, ""
}

// claimStrings reads a claim that is a string (space- or comma-separated
// values) or a list of strings.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return slices.Clone(x)
	}
	return nil
}
