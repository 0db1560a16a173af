package web

import (
	"net/http"
	"net/url"
)

// loginView is the sign-in page: through the identity provider, or with a
// password of this machine (HTTP Basic).
type loginView struct {
	page
	OIDC, Basic bool
	Next        string
	Error       string
}

// OIDCURL and BasicURL start each way of signing in, coming back to Next.
func (v loginView) OIDCURL() string  { return "/login/oidc?" + url.Values{"next": {v.Next}}.Encode() }
func (v loginView) BasicURL() string { return "/login/basic?" + url.Values{"next": {v.Next}}.Encode() }

// login: GET /login?next=PATH. A browser already signed in goes on to
// next.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, sess := s.fromSession(r); sess != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, "login", loginView{page: page{Title: "Sign in", Now: s.o.Now()}, OIDC: s.oidc != nil,
		Basic: len(s.signIn.accounts) > 0, Next: next})
}

// loginBasic: GET /login/basic?next=PATH, behind HTTP Basic: once the
// browser has signed in, on to next.
func (s *Server) loginBasic(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// logout: POST /logout ends the session. A browser signed in with HTTP
// Basic keeps sending its password until it is closed.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.checkPost(w, r) {
		return
	}
	if id, _ := s.fromSession(r); id != "" {
		s.sessions.end(id)
	}
	s.setCookie(w, r, s.sessionCookie(r), "", -1)
	s.log.Info("web: signed out", "user", signedIn(r).Name)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
