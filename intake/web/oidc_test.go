package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"intake/intake/web"
)

// The identity provider of these tests is a real OpenID provider:
// zitadel/oidc's op package, with its example server's login form and
// storage, on a loopback port. Its users carry the roles claim in their
// ID token, or (uiuser) only in the userinfo answer.

type idpUser struct {
	roles, grants []string
	userinfoOnly  bool // the claims only in the userinfo answer, not the ID token
}

var idpUsers = map[string]idpUser{
	"ana":    {roles: []string{"intake-analyst", "unrelated"}, grants: []string{"pii-call", "no-such-call"}},
	"uiuser": {roles: []string{"viewer"}, userinfoOnly: true},
	"boss":   {roles: []string{"admin"}},
	"nobody": {roles: []string{"staff"}},
}

type idpStore struct{ users map[string]*storage.User }

func (s idpStore) GetUserByID(id string) *storage.User { return s.users[id] }
func (s idpStore) GetUserByUsername(name string) *storage.User {
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (s idpStore) ExampleClientID() string { return "intake" }

// claimsStorage adds the roles and grants claims to the example storage.
type claimsStorage struct{ *storage.Storage }

func (s claimsStorage) add(userinfo *oidc.UserInfo, subject string, inIDToken bool) {
	u, ok := idpUsers[subject]
	if !ok || u.userinfoOnly == inIDToken {
		return
	}
	userinfo.AppendClaims("roles", u.roles)
	if u.grants != nil {
		userinfo.AppendClaims("intake_grants", u.grants)
	}
}

func (s claimsStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	s.add(userinfo, token.GetSubject(), true)
	return nil
}

func (s claimsStorage) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	s.add(userinfo, userinfo.Subject, false)
	return nil
}

// startIDP starts the provider for a dashboard whose callback is
// redirect, and returns its issuer URL.
func startIDP(t *testing.T, redirect string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := map[string]*storage.User{}
	for name := range idpUsers {
		users[name] = &storage.User{ID: name, Username: name, Password: "pw-" + name, FirstName: name, LastName: "Staff",
			Email: name + "@opm.gov", EmailVerified: true, PreferredLanguage: language.English}
	}
	st := storage.NewStorageWithClients(idpStore{users}, map[string]*storage.Client{
		"intake": storage.WebClient("intake", "client-secret", redirect)})
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, claimsStorage{st}, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return issuer
}

// oidcDashboard serves the fixture's dashboard on a loopback port with
// sign-in through a provider the test starts; it returns its URL.
func oidcDashboard(t *testing.T, f *fixture) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	issuer := startIDP(t, base+"/auth/callback")
	f.srv = mustServer(t, f, func(o *web.Options) {
		o.Now = time.Now // the provider's tokens carry the real time
		o.OIDC = &web.OIDC{Issuer: issuer, ClientID: "intake", ClientSecret: "client-secret", RedirectURL: base + "/auth/callback"}
	})
	ts := httptest.NewUnstartedServer(f.srv)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return base
}

var loginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn goes through the whole flow as a browser: the dashboard sends it
// to the provider, the provider's form takes the password, the provider
// sends it back. It returns the client (its cookies) and the last answer.
func signIn(t *testing.T, base, next, name string) (*http.Client, *http.Response, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	res, err := c.Get(base + "/login/oidc?" + url.Values{"next": {next}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := loginID.FindSubmatch(form)
	if m == nil {
		t.Fatalf("no login form at the provider (%s): %s", res.Request.URL, form)
	}
	res, err = c.PostForm(res.Request.URL.String(), url.Values{"id": {string(m[1])}, "username": {name}, "password": {"pw-" + name}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return c, res, string(b)
}

func TestOIDC_signInRolesGrantsAndSignOut(t *testing.T) {
	f := newFixture(t, options{})
	f.seed()
	base := oidcDashboard(t, f)

	// Not signed in, a browser is sent to the sign-in page, which offers
	// both ways; the API answers 401.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := plain.Get(base + "/submissions?call=test-call")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fsubmissions%3Fcall%3Dtest-call" {
		t.Fatalf("not signed in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = plain.Get(base + "/api/submissions")
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("API not signed in: %d", res.StatusCode)
	}

	c, res, page := signIn(t, base, "/submissions?call=test-call", "ana")
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/submissions" {
		t.Fatalf("after sign-in: %d at %s\n%s", res.StatusCode, res.Request.URL, page)
	}
	// The name is the provider's preferred_username (from its userinfo
	// answer: the ID token carries no profile claims); the role comes from
	// the roles claim, the highest understood.
	if !strings.Contains(page, "ana (analyst)") || !strings.Contains(page, "TST-1") {
		t.Errorf("signed-in page:\n%s", page)
	}
	for _, sc := range c.Jar.Cookies(res.Request.URL) {
		if sc.Name == "intake-oidc-state" {
			t.Error("the state cookie outlives the sign-in")
		}
	}
	// The grants claim granted the PII call (and named one unknown call,
	// ignored); uiuser has no grant.
	if res, _ := c.Get(base + "/export?call=pii-call&format=csv"); res.StatusCode != http.StatusOK {
		t.Errorf("granted export: %d", res.StatusCode)
	}

	// Signing out takes the session's CSRF token, and ends it.
	token := csrfField.FindStringSubmatch(page)[1]
	noFollow := *c
	noFollow.CheckRedirect = plain.CheckRedirect
	res, _ = noFollow.PostForm(base+"/logout", url.Values{"csrf": {"wrong"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out with a wrong token: %d", res.StatusCode)
	}
	res, _ = noFollow.PostForm(base+"/logout", url.Values{"csrf": {token}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", res.StatusCode)
	}
	res, _ = noFollow.Get(base + "/submissions")
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", res.StatusCode)
	}

	// Roles only in the userinfo answer; a viewer sees no submissions.
	c, res, page = signIn(t, base, "/", "uiuser")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "uiuser (viewer)") {
		t.Errorf("uiuser: %d\n%s", res.StatusCode, page)
	}
	if res, _ := c.Get(base + "/submissions"); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's submissions: %d", res.StatusCode)
	}

	// No role this dashboard knows: refused.
	_, res, page = signIn(t, base, "/", "nobody")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "no role") {
		t.Errorf("nobody: %d\n%s", res.StatusCode, page)
	}
}

// A callback whose state this browser did not start is refused: another
// site cannot sign a browser in under its own account (login CSRF).
func TestOIDC_callbackNeedsItsBrowsersState(t *testing.T) {
	f := newFixture(t, options{})
	base := oidcDashboard(t, f)
	jar, _ := cookiejar.New(nil)
	victim := &http.Client{Jar: jar}
	// The attacker begins a sign-in in their own browser...
	_, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(base + "/login/oidc")
	if err != nil {
		t.Fatal(err)
	}
	// ...and sends the victim's browser to the callback with a state.
	res, err := victim.Get(base + "/auth/callback?code=stolen&state=" + url.QueryEscape("anything"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "not started in this browser") {
		t.Errorf("forged callback: %d %s", res.StatusCode, b)
	}
	if res, _ := victim.Get(base + "/api/submissions"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the victim got a session: %d", res.StatusCode)
	}
}
