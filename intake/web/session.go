package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sessions: a sign-in through the identity provider (oidc.go) opens a
// session, kept in this process's memory and named by a random id in a
// cookie (HttpOnly, SameSite=Lax, Secure and __Host- prefixed whenever the
// dashboard is reached over TLS). A restart signs everyone out. HTTP
// Basic needs no session: the browser sends the credentials each time.
//
// Every state-changing request (a staff action, signing out) is a POST
// that must carry the CSRF token of its session (or, for HTTP Basic, of
// its user), and must not come from another origin (Sec-Fetch-Site,
// Origin: net/http's CrossOriginProtection).

const (
	sessionLifetime = 8 * time.Hour    // a session ends this long after sign-in
	maxSessions     = 10000            // sessions kept; past that the oldest go
	pendingLifetime = 10 * time.Minute // a sign-in at the provider must finish within it
	maxPending      = 10000            // sign-ins under way; past that the oldest go
)

// session is one signed-in browser.
type session struct {
	p       *principal
	csrf    string
	expires time.Time
}

// sessions are the open sessions and the sign-ins under way at the
// identity provider.
type sessions struct {
	mu      sync.Mutex
	open    map[string]*session // by id
	pending map[string]pending  // by OAuth state
	key     [32]byte            // HMAC key of the Basic users' CSRF tokens
}

// pending is a sign-in sent to the identity provider, by its state.
type pending struct {
	nonce, verifier, next string
	expires               time.Time
}

func newSessions() *sessions {
	s := &sessions{open: map[string]*session{}, pending: map[string]pending{}}
	rand.Read(s.key[:]) //nolint:errcheck // crypto/rand.Read never fails
	return s
}

// randomID is 32 random bytes, base64url.
func randomID() string {
	var b [32]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start opens a session for p and returns its id.
func (s *sessions) start(p *principal, now time.Time) (string, *session) {
	id := randomID()
	sess := &session{p: p, csrf: randomID(), expires: now.Add(sessionLifetime)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.open) >= maxSessions {
		evict(s.open, now, maxSessions, func(x *session) time.Time { return x.expires })
	}
	s.open[id] = sess
	return id, sess
}

// get returns the open session of that id, or nil.
func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.open[id]
	if sess == nil {
		return nil
	}
	if !now.Before(sess.expires) {
		delete(s.open, id)
		return nil
	}
	return sess
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, id)
}

// begin remembers a sign-in sent to the provider under state.
func (s *sessions) begin(state string, p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPending {
		evict(s.pending, p.expires.Add(-pendingLifetime), maxPending, func(x pending) time.Time { return x.expires })
	}
	s.pending[state] = p
}

// finish takes the sign-in of state: each is used once.
func (s *sessions) finish(state string, now time.Time) (pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	if !ok || !now.Before(p.expires) {
		return pending{}, false
	}
	return p, true
}

// evict removes the expired entries of m, then, while m still holds limit
// or more, the ones that expire first.
func evict[V any](m map[string]V, now time.Time, limit int, expires func(V) time.Time) {
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	for len(m) >= limit {
		var (
			oldest string
			at     time.Time
		)
		for k, v := range m {
			if oldest == "" || expires(v).Before(at) {
				oldest, at = k, expires(v)
			}
		}
		delete(m, oldest)
	}
}

// basicCSRF is the CSRF token of a Basic user: an HMAC of the name under
// the process's key, so it needs no memory and dies with the process.
func (s *sessions) basicCSRF(name string) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("csrf\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// secure tells whether the browser reached the dashboard over TLS (its
// own, or the proxy's in front).
func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.o.BehindTLSProxy }

// sessionCookie is the name of the session cookie: with the __Host-
// prefix over TLS, so no other site or path can set it.
func (s *Server) sessionCookie(r *http.Request) string {
	if s.secure(r) {
		return "__Host-intake-session"
	}
	return "intake-session"
}

// setCookie sets a cookie for the whole dashboard, HttpOnly and
// SameSite=Lax (sent on the provider's redirect back, never on another
// site's POST), Secure over TLS; maxAge < 0 deletes it.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

// fromSession returns the session of the request's cookie, if open.
func (s *Server) fromSession(r *http.Request) (string, *session) {
	c, err := r.Cookie(s.sessionCookie(r))
	if err != nil || c.Value == "" {
		return "", nil
	}
	sess := s.sessions.get(c.Value, s.o.Now())
	if sess == nil {
		return "", nil
	}
	return c.Value, sess
}

type csrfKey struct{}

// csrfToken is the CSRF token of the request's sign-in ("" if none).
func csrfToken(r *http.Request) string {
	t, _ := r.Context().Value(csrfKey{}).(string)
	return t
}

func withCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey{}, token)
}

// checkPost refuses a state-changing request that comes from another
// origin or does not carry the sign-in's CSRF token (form field "csrf").
// It answers the refusal itself and returns false.
func (s *Server) checkPost(w http.ResponseWriter, r *http.Request) bool {
	if err := s.crossOrigin.Check(r); err != nil {
		s.log.Warn("web: cross-origin request refused", "path", r.URL.Path, "user", signedIn(r).Name)
		http.Error(w, "forbidden: a request from another site", http.StatusForbidden)
		return false
	}
	want := csrfToken(r)
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		s.log.Warn("web: CSRF token missing or wrong", "path", r.URL.Path, "user", signedIn(r).Name)
		http.Error(w, "forbidden: the form is stale or did not come from this dashboard; reload the page and try again", http.StatusForbidden)
		return false
	}
	return true
}

// localPath is next when it is a path of this dashboard ("/..." but not
// "//host" or "/\host", which browsers take for another site), else "/".
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) {
		return "/"
	}
	return next
}
