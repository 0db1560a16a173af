package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"intake/parser"
)

// Role is what a user may do. Each role may do what the ones before it
// may.
type Role int

const (
	// RoleViewer sees where each call stands (the overview and its JSON):
	// no submission, record, file or mail.
	RoleViewer Role = iota + 1
	// RoleAnalyst also sees submissions, their records and files, the
	// other mail, and exports; records and files of a call that holds
	// personal data only where the user is granted that call.
	RoleAnalyst
	// RoleAdmin also acts on the mail: replay, release (the staff
	// actions register under this role).
	RoleAdmin
)

var roleNames = map[Role]string{RoleViewer: "viewer", RoleAnalyst: "analyst", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// ParseRole reads "viewer", "analyst" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q is not one of viewer, analyst, admin", s)
}

// User is an account that signs in with a password (HTTP Basic).
type User struct {
	// PasswordHash is a bcrypt hash ($2a$, $2b$, $2y$: htpasswd -B,
	// `intake hash-password`) or an argon2id hash in the PHC string format
	// ($argon2id$v=19$...: the argon2 program, libsodium). Never the
	// password itself.
	PasswordHash string
	Role         Role
	// Grants are the data calls holding personal data whose records and
	// files this user may see (an analyst or admin); a call without
	// personal data needs no grant.
	Grants []string
}

// principal is who a request comes from, once signed in. A sign-in of
// another kind (an identity provider's) makes one too.
type principal struct {
	Name   string
	Role   Role
	grants map[string]bool
}

// may tells whether p's role reaches need.
func (p *principal) may(need Role) bool { return p != nil && p.Role >= need }

// mayRecords tells whether p may see the records and files of call (def
// nil: a call no longer defined, treated as holding personal data).
func (p *principal) mayRecords(call string, def *parser.Definition) bool {
	if !p.may(RoleAnalyst) {
		return false
	}
	if def != nil && !def.PII {
		return true
	}
	return p.grants[call]
}

type principalKey struct{}

// signedIn returns the principal of an authenticated request.
func signedIn(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	return p
}

// account is a configured user, its hash parsed.
type account struct {
	principal
	hash passwordHash
}

// signIn checks HTTP Basic credentials against the accounts, with the
// throttle, and remembers who got in.
//
// A password hash costs tens of milliseconds by design, and a browser
// sends the credentials with every request, so a password once verified
// is remembered for the client it came from (an HMAC under a key made at
// start, never the password), for a few hours; only that client's
// requests with that exact password take the quick way, so it gives
// nobody else a cheaper guess. Hashing takes at most one slot per CPU at
// once; requests beyond wait for one.
type signIn struct {
	accounts map[string]*account
	decoy    passwordHash // checked for an unknown user name
	clients  *limiter
	users    *limiter
	key      [32]byte      // the HMAC key of remembered passwords
	slots    chan struct{} // hashing in progress
	mu       sync.Mutex
	seen     map[seenKey]seenPass
}

type seenKey struct{ user, client string }

type seenPass struct {
	mac   [sha256.Size]byte
	until time.Time
}

// rememberFor is how long a verified password is remembered for its
// client; maxRemembered bounds how many (user, client) pairs are.
const (
	rememberFor   = 8 * time.Hour
	maxRemembered = 10000
)

func newSignIn(users map[string]User, calls *parser.Registry, th Throttle, slots int) (*signIn, error) {
	th = th.withDefaults()
	s := &signIn{accounts: map[string]*account{}, clients: newLimiter(th.ClientBurst, th.ClientEvery),
		users: newLimiter(th.UserBurst, th.UserEvery), slots: make(chan struct{}, max(slots, 1)), seen: map[seenKey]seenPass{}}
	rand.Read(s.key[:]) //nolint:errcheck // crypto/rand.Read never fails
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		u := users[name]
		if name == "" {
			return nil, fmt.Errorf("web: a user has an empty name")
		}
		h, err := parsePasswordHash(u.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("web: user %s: password hash: %w", name, err)
		}
		if _, ok := roleNames[u.Role]; !ok {
			return nil, fmt.Errorf("web: user %s: no role (viewer, analyst or admin)", name)
		}
		a := &account{principal: principal{Name: name, Role: u.Role, grants: map[string]bool{}}, hash: h}
		for _, g := range u.Grants {
			if calls.Get(g) == nil {
				return nil, fmt.Errorf("web: user %s: grant %q names no data call", name, g)
			}
			a.grants[g] = true
		}
		s.accounts[name] = a
	}
	if len(names) > 0 {
		var err error
		if s.decoy, err = s.accounts[names[0]].hash.decoy(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *signIn) mac(password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(password))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// outcome of a sign-in.
type outcome int

const (
	signedInOK outcome = iota
	wrongCredentials
	throttled
)

// check verifies user and password for client at now. It returns the
// principal, or why not, with how long to wait when throttled.
func (s *signIn) check(ctx context.Context, user, password, client string, now time.Time) (*principal, outcome, time.Duration) {
	a := s.accounts[user]
	sk := seenKey{user, client}
	mac := s.mac(password)
	s.mu.Lock()
	seen, ok := s.seen[sk]
	s.mu.Unlock()
	if ok && a != nil && now.Before(seen.until) && hmac.Equal(seen.mac[:], mac[:]) {
		return &a.principal, signedInOK, 0
	}
	if w := s.clients.take(client, now); w > 0 {
		return nil, throttled, w
	}
	if w := s.users.take(user, now); w > 0 {
		s.clients.refund(client)
		return nil, throttled, w
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, wrongCredentials, 0
	}
	h := s.decoy
	if a != nil {
		h = a.hash
	}
	match := h.matches(password)
	<-s.slots
	if a == nil || !match {
		return nil, wrongCredentials, 0 // the tries taken stay counted
	}
	s.clients.refund(client)
	s.users.refund(user)
	s.mu.Lock()
	if len(s.seen) >= maxRemembered {
		for k, v := range s.seen { // the expired, and while still full any
			if !now.Before(v.until) || len(s.seen) >= maxRemembered {
				delete(s.seen, k)
			}
		}
	}
	s.seen[sk] = seenPass{mac: mac, until: now.Add(rememberFor)}
	s.mu.Unlock()
	return &a.principal, signedInOK, 0
}

// authenticated requires a signed-in user whose role reaches need, then
// runs next with the principal (and its CSRF token) in the request's
// context. A user is signed in by a session (a sign-in through the
// identity provider) or by HTTP Basic credentials. Without either, a
// browser asking for a page is sent to the sign-in page when an identity
// provider is configured; otherwise the answer is 401 asking for Basic
// credentials.
func (s *Server) authenticated(need Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			p    *principal
			csrf string
		)
		if _, sess := s.fromSession(r); sess != nil {
			p, csrf = sess.p, sess.csrf
		} else if user, pass, ok := r.BasicAuth(); ok && len(s.signIn.accounts) > 0 {
			client := clientKey(r, s.o.BehindTLSProxy)
			var (
				res  outcome
				wait time.Duration
			)
			p, res, wait = s.signIn.check(r.Context(), user, pass, client, s.o.Now())
			switch res {
			case throttled:
				secs := int(math.Ceil(wait.Seconds()))
				s.log.Warn("web: sign-in throttled", "client", client, "user", s.knownName(user), "retry_after_s", secs)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				http.Error(w, fmt.Sprintf("too many failed sign-ins: try again in %d seconds", secs), http.StatusTooManyRequests)
				return
			case wrongCredentials:
				s.log.Warn("web: authentication failed", "client", client, "user", s.knownName(user), "path", r.URL.Path)
			}
			if p != nil {
				csrf = s.sessions.basicCSRF(p.Name)
			}
		}
		if p == nil {
			s.signInFirst(w, r)
			return
		}
		// Every authenticated response is data (possibly PII): never cached.
		w.Header().Set("Cache-Control", "no-store")
		if !p.may(need) {
			s.log.Warn("web: forbidden", "user", p.Name, "role", p.Role.String(), "path", r.URL.Path)
			http.Error(w, fmt.Sprintf("forbidden: this needs the role %s (you are %s)", need, p.Role), http.StatusForbidden)
			return
		}
		ctx := withCSRF(context.WithValue(r.Context(), principalKey{}, p), csrf)
		next(w, r.WithContext(ctx))
	})
}

// signInFirst answers a request that is not signed in: a browser's GET of
// a page goes to the sign-in page when an identity provider is configured;
// anything else gets 401, with a Basic challenge when there are Basic
// users.
func (s *Server) signInFirst(w http.ResponseWriter, r *http.Request) {
	if s.oidc != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(r.URL.Path, "/api/") {
		http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		return
	}
	if len(s.signIn.accounts) > 0 {
		w.Header().Set("WWW-Authenticate", `Basic realm="intake", charset="UTF-8"`)
	}
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

// knownName is user for the log when it names an account; a name typed
// wrong may be a password typed in the wrong field, so it is not logged.
func (s *Server) knownName(user string) string {
	if _, ok := s.signIn.accounts[user]; ok {
		return user
	}
	return "(unknown)"
}
