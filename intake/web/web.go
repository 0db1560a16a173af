// Package web serves the staff dashboard and JSON API over the store: what
// arrived for each data call, who is missing or late, each submission with
// its files, findings, records and replies, the mail that was not a
// submission, and exports (intake/export).
//
// Everything but /healthz and /metrics is behind HTTP Basic authentication
// against the configured users; New refuses to build a server without
// users, because the records may hold PII. Templates are embedded and all
// parsed by New (it fails fast on a broken one); each page renders a typed
// view struct into a buffer before anything is written. The JSON API under
// /api/ returns the same view structs as the pages.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"intake/parser"
	"intake/store"
)

// Options configure a Server. Store, Calls and at least one user are
// required; a nil Now is time.Now, a nil Logger discards, a nil Metrics
// leaves /metrics unserved.
type Options struct {
	Store *store.Store
	Calls *parser.Registry
	// Users maps a user name to its password (HTTP Basic). Empty names or
	// passwords are refused.
	Users map[string]string
	// Agencies maps agency codes to names, for display and to tell which
	// agencies are missing (a call's ExpectedAgencies take precedence).
	Agencies map[string]string
	Now      func() time.Time
	Logger   *slog.Logger
	Metrics  http.Handler // served at /metrics without authentication; nil = not served
	// Health, when set, is asked by /healthz beside the store: an error
	// (the daemon's last good poll too old, the store unable to write)
	// makes it answer 503 with the error's text.
	Health func(ctx context.Context) error
}

// Server is the dashboard. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	o     Options
	log   *slog.Logger
	views *views
	users map[string][sha256.Size]byte // user -> SHA-256 of the password
	mux   *http.ServeMux               // every route, authenticated ones wrapped
}

// New checks the options, parses every template and builds the routes.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("web: Store is required")
	}
	if o.Calls == nil {
		return nil, errors.New("web: Calls is required")
	}
	if len(o.Users) == 0 {
		return nil, errors.New("web: no users configured: the dashboard is never served without authentication")
	}
	users := make(map[string][sha256.Size]byte, len(o.Users))
	for u, p := range o.Users {
		if u == "" || p == "" {
			return nil, fmt.Errorf("web: user %q: empty user name or password", u)
		}
		users[u] = sha256.Sum256([]byte(p))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Agencies == nil {
		o.Agencies = map[string]string{}
	}
	v, err := parseViews()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, log: o.Logger, views: v, users: users, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if s.o.Metrics != nil {
		s.mux.Handle("GET /metrics", s.o.Metrics)
	}
	auth := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.authenticated(h)) }
	auth("GET /{$}", s.overview)
	auth("GET /submissions", s.submissions)
	auth("GET /submissions/{receipt}", s.submission)
	auth("GET /submissions/{receipt}/files/{sha256}", s.file)
	auth("GET /messages", s.messages)
	auth("GET /export", s.export)
	auth("GET /static/style.css", s.stylesheet)
	auth("GET /api/calls/{call}/status", s.apiCallStatus)
	auth("GET /api/submissions", s.apiSubmissions)
	auth("GET /api/submissions/{receipt}", s.apiSubmission)
	// Anything else needs authentication too, so an unknown path tells
	// nothing to a stranger.
	auth("/", http.NotFound)
}

// ServeHTTP sets the security headers every response carries and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// authenticated requires HTTP Basic credentials of a configured user.
// Passwords are compared as SHA-256 digests with subtle.ConstantTimeCompare,
// so neither their content nor their length shows in the timing, and an
// unknown user costs the same comparison as a known one.
func (s *Server) authenticated(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(pass))
		want, known := s.users[user]
		if !known {
			want = sha256.Sum256([]byte("\x00unknown user\x00"))
		}
		match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
		if !ok || !known || !match {
			if ok {
				s.log.Warn("web: authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="intake", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		// Every authenticated response is data (possibly PII): never cached.
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	})
}

// healthz answers 200 "ok" when the store answers a query and Health (if
// set) has nothing to say, 503 otherwise.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// A one-row read is the store's ping: it goes through the read pool the
	// dashboard uses.
	if _, err := s.o.Store.Messages(ctx, store.MessageFilter{Limit: 1}); err != nil {
		s.log.Error("web: health check", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "store unavailable")
		return
	}
	if s.o.Health != nil {
		if err := s.o.Health(ctx); err != nil {
			s.log.Error("web: health check", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, err.Error())
			return
		}
	}
	io.WriteString(w, "ok")
}

// fail answers a request that could not be served: 404 for a store
// ErrNotFound, else 500 with a generic text (the error is logged, not
// shown).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
