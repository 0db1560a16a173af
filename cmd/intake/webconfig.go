package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"intake/intake/web"
)

// WebConfig is the dashboard's section.
type WebConfig struct {
	Listen  string `yaml:"listen"`   // e.g. 127.0.0.1:8080; empty: no dashboard with `run`
	TLSCert string `yaml:"tls_cert"` // PEM certificate (chain); with tls_key, the dashboard is HTTPS
	TLSKey  string `yaml:"tls_key"`  //
	// BehindTLSProxy: a proxy in front terminates TLS, so plain HTTP may
	// listen on an address other than loopback.
	BehindTLSProxy bool                  `yaml:"behind_tls_proxy"`
	Users          map[string]UserConfig `yaml:"users"` // and $INTAKE_WEB_USER, $INTAKE_WEB_PASSWORD, $INTAKE_WEB_ROLE
	// OIDC signs staff in through OPM's identity provider; the users above
	// (HTTP Basic) stay for one machine.
	OIDC *OIDCConfig `yaml:"oidc"`
}

// OIDCConfig is sign-in through an OpenID Connect provider.
type OIDCConfig struct {
	Issuer           string   `yaml:"issuer"`             // e.g. https://login.microsoftonline.com/TENANT/v2.0
	ClientID         string   `yaml:"client_id"`          //
	ClientSecret     string   `yaml:"client_secret"`      // or client_secret_file, or $INTAKE_OIDC_CLIENT_SECRET
	ClientSecretFile string   `yaml:"client_secret_file"` //
	RedirectURL      string   `yaml:"redirect_url"`       // https://HOST/auth/callback, as registered at the provider
	Scopes           []string `yaml:"scopes"`             // beside openid; default profile, email
	RolesClaim       string   `yaml:"roles_claim"`        // default roles
	// RoleValues maps a value of the roles claim to viewer, analyst or
	// admin; default: the role names themselves, and intake-viewer,
	// intake-analyst, intake-admin.
	RoleValues  map[string]string `yaml:"role_values"`
	GrantsClaim string            `yaml:"grants_claim"` // default intake_grants: the PII calls granted
	NameClaim   string            `yaml:"name_claim"`   // default preferred_username, else email
}

// UserConfig is one dashboard user. The password is never in the file,
// only its hash.
type UserConfig struct {
	PasswordHash string   `yaml:"password_hash"` // bcrypt or argon2id (`intake hash-password`)
	Role         string   `yaml:"role"`          // viewer | analyst | admin
	Grants       []string `yaml:"grants"`        // data calls holding personal data this user may see the records of
	password     string   // from $INTAKE_WEB_PASSWORD, hashed when the dashboard starts
}

var userKeys = []string{"password_hash", "role", "grants"}

// UnmarshalYAML refuses a password written where a user's settings belong,
// without repeating it in the error, and unknown keys (yaml.v3 does not
// pass KnownFields on to a custom unmarshaler).
func (u *UserConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a dashboard user is password_hash, role and grants; a password is never written in the configuration (make its hash with `intake hash-password`)", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(userKeys, k) {
			return fmt.Errorf("line %d: field %s not found in a dashboard user (password_hash, role, grants)", n.Content[i].Line, k)
		}
	}
	type plain UserConfig
	return n.Decode((*plain)(u))
}

// fromEnv reads the identity provider's client secret (its file, else
// $INTAKE_OIDC_CLIENT_SECRET), and adds the user of $INTAKE_WEB_USER and
// $INTAKE_WEB_PASSWORD (when both are set), with the role $INTAKE_WEB_ROLE
// (default viewer) and the grants of $INTAKE_WEB_GRANTS (comma-separated).
func (w *WebConfig) fromEnv() error {
	if o := w.OIDC; o != nil {
		v, err := secret(o.ClientSecret, o.ClientSecretFile, "INTAKE_OIDC_CLIENT_SECRET")
		if err != nil {
			return fmt.Errorf("web.oidc.client_secret_file: %w", err)
		}
		o.ClientSecret = v
	}
	u, p := os.Getenv("INTAKE_WEB_USER"), os.Getenv("INTAKE_WEB_PASSWORD")
	if u == "" || p == "" {
		return nil
	}
	if w.Users == nil {
		w.Users = map[string]UserConfig{}
	}
	uc := UserConfig{Role: firstNonEmpty(os.Getenv("INTAKE_WEB_ROLE"), "viewer"), password: p}
	for _, g := range strings.Split(os.Getenv("INTAKE_WEB_GRANTS"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			uc.Grants = append(uc.Grants, g)
		}
	}
	w.Users[u] = uc
	return nil
}

// validate checks the section; each message names the setting.
func (w *WebConfig) validate() error {
	var errs []error
	if (w.TLSCert == "") != (w.TLSKey == "") {
		errs = append(errs, errors.New("web.tls_cert and web.tls_key: give both or neither"))
	}
	if w.Listen != "" {
		if err := web.CheckListen(w.Listen, w.TLSCert != "", w.BehindTLSProxy); err != nil {
			errs = append(errs, err)
		}
	}
	if o := w.OIDC; o != nil {
		if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
			errs = append(errs, errors.New("web.oidc: issuer, client_id and redirect_url are required"))
		}
		if _, err := o.options(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range sortedKeys(w.Users) {
		u := w.Users[name]
		if _, err := web.ParseRole(u.Role); err != nil {
			errs = append(errs, fmt.Errorf("web.users.%s.role: %w", name, err))
		}
		if u.PasswordHash == "" && u.password == "" {
			errs = append(errs, fmt.Errorf("web.users.%s.password_hash is required (make one with `intake hash-password`)", name))
		}
	}
	return errors.Join(errs...)
}

// webUsers turns the configured users into the dashboard's accounts,
// hashing the password of the environment's user.
func (w *WebConfig) webUsers() (map[string]web.User, error) {
	out := make(map[string]web.User, len(w.Users))
	for name, u := range w.Users {
		role, err := web.ParseRole(u.Role)
		if err != nil {
			return nil, fmt.Errorf("web.users.%s.role: %w", name, err)
		}
		h := u.PasswordHash
		if u.password != "" {
			// The lowest cost: this hash is never written anywhere, and the
			// password itself is in this process's memory beside it.
			if h, err = web.HashPassword(u.password, bcrypt.MinCost); err != nil {
				return nil, err
			}
		}
		out[name] = web.User{PasswordHash: h, Role: role, Grants: u.Grants}
	}
	return out, nil
}

// options are the dashboard's OIDC options.
func (o *OIDCConfig) options() (*web.OIDC, error) {
	out := &web.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL,
		Scopes: o.Scopes, RolesClaim: o.RolesClaim, GrantsClaim: o.GrantsClaim, NameClaim: o.NameClaim}
	if len(o.RoleValues) > 0 {
		out.RoleValues = map[string]web.Role{}
		for _, v := range sortedKeys(o.RoleValues) {
			r, err := web.ParseRole(o.RoleValues[v])
			if err != nil {
				return nil, fmt.Errorf("web.oidc.role_values.%s: %w", v, err)
			}
			out.RoleValues[v] = r
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
