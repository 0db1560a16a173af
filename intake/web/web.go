// Package web serves the staff dashboard and JSON API over the store: what
// arrived for each data call, who is missing or late (with a chart of it
// over time against the deadline), what needs attention, each submission
// with its files, findings, records, incoming mail, replies as sent and
// changes from the previous version, agencies' questions, all stored mail
// and replies, exports (intake/export), and the staff actions on the mail.
//
// Everything but /healthz, /metrics and the sign-in pages needs a user:
// signed in through an OpenID Connect provider (oidc.go; a session in a
// cookie, session.go) or with HTTP Basic against password hashes (auth.go),
// whose failures are throttled per client and per user name
// (throttle.go). Each user has a role: a viewer sees where each call
// stands, an analyst also submissions, records, files, mail and exports
// (of a call holding personal data only where granted that call), an admin
// also acts on the mail (actions.go: POST, CSRF token, same origin);
// analysts read agencies' questions, add notes and mark them answered
// (questions.go, checked and audited the same way). Every
// view of records or mail, file download, export and action is written to
// the store's audit log first. New refuses to build a server without a way
// to sign in. Start serves over TLS, or plain HTTP on loopback or behind a
// TLS proxy only, with header and idle timeouts (listen.go). Templates are
// embedded and all parsed by New (it fails fast on a broken one); each page
// renders a typed view struct into a buffer before anything is written.
// Every list searches, sorts and pages the same way (list.go).
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
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
	// Users maps a user name to its account: password hash, role, grants.
	// A user without a valid hash or role, or granted an unknown call, is
	// refused.
	Users map[string]User
	// Throttle bounds failed sign-ins; zero fields take its defaults.
	Throttle Throttle
	// BehindTLSProxy says a proxy in front terminates TLS and forwards
	// plain HTTP: Start then serves plain HTTP on any address, and the
	// client's address is the last one the proxy appends to
	// X-Forwarded-For.
	BehindTLSProxy bool
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
	// OIDC, when set, signs staff in through an OpenID Connect provider
	// (sessions in cookies); the Basic users stay for one machine. With
	// OIDC, Users may be empty.
	OIDC *OIDC
	// Replay decides a stored message again (the daemon's Replay); nil:
	// the dashboard offers no replay (intake serve, where no daemon runs).
	Replay func(ctx context.Context, id int64) error
	// WakeOutbox, when set, is called after a reply was released or queued
	// again, so the daemon's outbox sends it now.
	WakeOutbox func()
}

// Server is the dashboard. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	o           Options
	log         *slog.Logger
	views       *views
	signIn      *signIn
	sessions    *sessions
	oidc        *oidcClient // nil without OIDC
	crossOrigin *http.CrossOriginProtection
	mux         *http.ServeMux // every route, authenticated ones wrapped
}

// New checks the options, parses every template and builds the routes.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("web: Store is required")
	}
	if o.Calls == nil {
		return nil, errors.New("web: Calls is required")
	}
	if len(o.Users) == 0 && o.OIDC == nil {
		return nil, errors.New("web: no users configured: the dashboard is never served without authentication")
	}
	signIn, err := newSignIn(o.Users, o.Calls, o.Throttle, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
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
	s := &Server{o: o, log: o.Logger, views: v, signIn: signIn, sessions: newSessions(),
		crossOrigin: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if o.OIDC != nil {
		if s.oidc, err = newOIDCClient(*o.OIDC); err != nil {
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if s.o.Metrics != nil {
		s.mux.Handle("GET /metrics", s.o.Metrics)
	}
	// Signing in and out.
	s.mux.HandleFunc("GET /login", s.login)
	if s.oidc != nil {
		s.mux.HandleFunc("GET /login/oidc", s.oidcStart)
		s.mux.HandleFunc("GET /auth/callback", s.oidcCallback)
	}
	auth := func(need Role, pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.authenticated(need, h)) }
	auth(RoleViewer, "GET /login/basic", s.loginBasic)
	auth(RoleViewer, "POST /logout", s.logout)

	auth(RoleViewer, "GET /{$}", s.overview)
	auth(RoleViewer, "GET /static/style.css", s.stylesheet)
	auth(RoleViewer, "GET /calls/{call}", s.call)
	auth(RoleViewer, "GET /calls/{call}/chart.svg", s.chartSVG)
	auth(RoleViewer, "GET /api/calls/{call}/status", s.apiCallStatus)
	auth(RoleAnalyst, "GET /attention", s.attention)
	auth(RoleAnalyst, "GET /submissions", s.submissions)
	auth(RoleAnalyst, "GET /submissions/{receipt}", s.submission)
	auth(RoleAnalyst, "GET /submissions/{receipt}/files/{sha256}", s.file)
	auth(RoleAnalyst, "GET /messages", s.messages)
	auth(RoleAnalyst, "GET /messages/{id}", s.message)
	auth(RoleAnalyst, "GET /replies", s.replies)
	auth(RoleAnalyst, "GET /replies/{id}", s.reply)
	auth(RoleAnalyst, "GET /questions", s.questions)
	auth(RoleAnalyst, "GET /questions/{id}", s.question)
	auth(RoleAnalyst, "GET /export", s.export)
	auth(RoleAnalyst, "GET /api/submissions", s.apiSubmissions)
	auth(RoleAnalyst, "GET /api/submissions/{receipt}", s.apiSubmission)
	// The staff actions: POST, admin, CSRF-checked, audited (actions.go).
	auth(RoleAdmin, "POST /messages/{id}/replay", s.actReplay)
	auth(RoleAdmin, "POST /replies/{id}/release", s.actRelease)
	auth(RoleAdmin, "POST /replies/{id}/resend", s.actResend)
	// Questions are answered by analysts (questions.go), with the same
	// checks and audit.
	auth(RoleAnalyst, "POST /questions/{id}/note", s.actNote)
	auth(RoleAnalyst, "POST /questions/{id}/answer", s.actAnswer)
	// Anything else needs authentication too, so an unknown path tells
	// nothing to a stranger.
	auth(RoleViewer, "/", http.NotFound)
}

// ServeHTTP sets the security headers every response carries and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.TLS != nil || s.o.BehindTLSProxy {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
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

// audit writes what the signed-in user is about to receive to the audit
// log, with the client's address; the caller sends nothing when it fails.
func (s *Server) audit(r *http.Request, action, call, object, detail string) error {
	d := "client " + clientAddr(r, s.o.BehindTLSProxy)
	if detail != "" {
		d += "; " + detail
	}
	_, err := s.o.Store.Audit(r.Context(), store.AuditEntry{At: s.o.Now(), User: signedIn(r).Name, Via: store.AuditViaWeb,
		Action: action, Call: call, Object: object, Detail: d})
	return err
}

// filterError is a filter of a list's query naming what does not exist (a
// call, a state, an agency): the request is answered 400 with its text.
// It is a store.ErrBadFilter, as the store's own refusals are.
type filterError struct{ text string }

func (e filterError) Error() string { return e.text }
func (e filterError) Unwrap() error { return store.ErrBadFilter }

func badFilter(format string, a ...any) error { return filterError{fmt.Sprintf(format, a...)} }

// badFilterText is what a refused filter is told: the error without the
// store's prefix.
func badFilterText(err error) string {
	return "bad request: " + strings.TrimPrefix(err.Error(), "store: ")
}

// forbidden answers a request for the records of a call holding personal
// data that the user is not granted.
func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, call string) {
	p := signedIn(r)
	s.log.Warn("web: forbidden", "user", p.Name, "role", p.Role.String(), "call", call, "path", r.URL.Path)
	http.Error(w, "forbidden: the records of "+call+" hold personal data, and your account has no grant for that call", http.StatusForbidden)
}

// fail answers a request that could not be served: 404 for a store
// ErrNotFound, 400 for a filter naming what does not exist
// (store.ErrBadFilter, its text shown), else 500 with a generic text (the
// error is logged, not shown).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if errors.Is(err, store.ErrBadFilter) {
		http.Error(w, badFilterText(err), http.StatusBadRequest)
		return
	}
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
