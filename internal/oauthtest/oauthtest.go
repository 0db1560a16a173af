// Package oauthtest is an identity provider for tests, on loopback: a
// token endpoint (RFC 6749 client credentials with a client secret or a
// certificate assertion, RFC 7523 JWT bearer grant of a service account)
// and an introspection endpoint (RFC 7662) that a mail server asks whether
// a token is good (Dovecot's oauth2 passdb; localmail's servers). Tokens
// expire by the provider's own clock, which tests set.
package oauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Options say whom the provider knows.
type Options struct {
	ClientID     string
	ClientSecret string            // accepted with ClientID ("" accepts none)
	Certificate  *x509.Certificate // its key signs accepted client assertions
	// ServiceAccount and ServiceKey: a Google-style service account whose
	// signed JWT is exchanged for a token acting as the JWT's sub.
	ServiceAccount string
	ServiceKey     *rsa.PublicKey
	Username       string        // who a client-credentials token is for, at introspection
	Scope          string        // the scope required (default any)
	Lifetime       time.Duration // expires_in of the tokens issued (default 1 h)
	Now            func() time.Time
}

// Server is a running provider; Close stops it (t.Cleanup does).
type Server struct {
	URL           string // base URL
	TokenURL      string
	IntrospectURL string

	o   Options
	srv *httptest.Server

	mu         sync.Mutex
	tokens     map[string]issued
	order      []string
	refuse     bool
	requests   int
	introspect int
	lastForm   map[string][]string
	lastClaims jwt.MapClaims
}

type issued struct {
	user    string
	expires time.Time
	revoked bool
}

// Start starts the provider on loopback.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Lifetime <= 0 {
		o.Lifetime = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, tokens: map[string]issued{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /introspect", s.introspectHandler)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	s.TokenURL = s.URL + "/token"
	s.IntrospectURL = s.URL + "/introspect"
	return s
}

// Refuse makes the token endpoint answer 401 invalid_client (a secret
// rotated away, a certificate removed from the app registration).
func (s *Server) Refuse(on bool) { s.mu.Lock(); s.refuse = on; s.mu.Unlock() }

// Issued returns the tokens issued, oldest first.
func (s *Server) Issued() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.order) }

// Requests is how many requests the token endpoint answered.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Introspections is how many tokens were checked.
func (s *Server) Introspections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.introspect }

// LastForm is the form of the last token request.
func (s *Server) LastForm() map[string][]string { s.mu.Lock(); defer s.mu.Unlock(); return s.lastForm }

// LastClaims are the claims of the last assertion the endpoint accepted.
func (s *Server) LastClaims() jwt.MapClaims { s.mu.Lock(); defer s.mu.Unlock(); return s.lastClaims }

// Revoke makes every token issued so far inactive.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.tokens {
		v.revoked = true
		s.tokens[k] = v
	}
}

// Active reports whether tok is a token the provider issued that has
// neither expired (by Options.Now) nor been revoked, and for whom.
func (s *Server) Active(tok string) (user string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, found := s.tokens[tok]
	if !found || it.revoked || !s.o.Now().Before(it.expires) {
		return "", false
	}
	return it.user, true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	s.requests++
	s.lastForm = r.PostForm
	refuse := s.refuse
	s.mu.Unlock()
	if refuse {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000222: The provided client secret keys are expired.")
		return
	}
	if s.o.Scope != "" && r.PostForm.Get("scope") != s.o.Scope && r.PostForm.Get("grant_type") == "client_credentials" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope must be "+s.o.Scope)
		return
	}
	var user string
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_id") != s.o.ClientID {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
			return
		}
		switch {
		case r.PostForm.Has("client_secret"):
			if s.o.ClientSecret == "" || r.PostForm.Get("client_secret") != s.o.ClientSecret {
				oauthError(w, http.StatusUnauthorized, "invalid_client", "wrong secret")
				return
			}
		case r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
			if err := s.checkAssertion(r.PostForm.Get("client_assertion")); err != nil {
				oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
				return
			}
		default:
			oauthError(w, http.StatusUnauthorized, "invalid_client", "no client authentication")
			return
		}
		user = s.o.Username
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		sub, err := s.checkGrant(r.PostForm.Get("assertion"))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
			return
		}
		user = sub
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", r.PostForm.Get("grant_type"))
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := "at-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = issued{user: user, expires: s.o.Now().Add(s.o.Lifetime)}
	s.order = append(s.order, tok)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.o.Lifetime / time.Second)})
}

// checkAssertion checks a client assertion as Entra ID does: signed RS256
// by the certificate's key, x5t its SHA-1 thumbprint, issued by and about
// the client, for this token endpoint, unexpired.
func (s *Server) checkAssertion(a string) error {
	if s.o.Certificate == nil {
		return fmt.Errorf("no certificate registered")
	}
	sum := sha1.Sum(s.o.Certificate.Raw)
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(a, claims, func(t *jwt.Token) (any, error) {
		if t.Header["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, fmt.Errorf("x5t is not the registered certificate's thumbprint")
		}
		return s.o.Certificate.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.TokenURL), jwt.WithIssuer(s.o.ClientID),
		jwt.WithSubject(s.o.ClientID), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.o.Now))
	if err != nil || !tok.Valid {
		return fmt.Errorf("client assertion: %v", err)
	}
	s.mu.Lock()
	s.lastClaims = claims
	s.mu.Unlock()
	return nil
}

// checkGrant checks a service account's JWT (Google's form: iss the
// account, aud the token endpoint, scope, sub the user to act as).
func (s *Server) checkGrant(a string) (string, error) {
	if s.o.ServiceKey == nil {
		return "", fmt.Errorf("no service account registered")
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(a, claims, func(*jwt.Token) (any, error) { return s.o.ServiceKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.TokenURL), jwt.WithIssuer(s.o.ServiceAccount),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.o.Now))
	if err != nil || !tok.Valid {
		return "", fmt.Errorf("assertion: %v", err)
	}
	if scope, _ := claims["scope"].(string); s.o.Scope != "" && scope != s.o.Scope {
		return "", fmt.Errorf("scope %q", scope)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", fmt.Errorf("no sub: the account must act as a user")
	}
	s.mu.Lock()
	s.lastClaims = claims
	s.mu.Unlock()
	return sub, nil
}

// introspectHandler answers RFC 7662: {"active": true, "username": ...}
// for a good token, {"active": false} otherwise.
func (s *Server) introspectHandler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" { // some clients send it as a bearer header
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	s.introspect++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if user, ok := s.Active(tok); ok {
		json.NewEncoder(w).Encode(map[string]any{"active": true, "username": user})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": false})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
