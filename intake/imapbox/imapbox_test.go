package imapbox_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"intake/intake/imapbox"
	"intake/intake/localmail"
	"intake/intake/signin"
	"intake/internal/oauthtest"
)

func startIMAP(t *testing.T, o localmail.IMAPOptions) *localmail.IMAPServer {
	t.Helper()
	s, err := localmail.StartIMAP(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, o imapbox.Options) (*imapbox.Conn, error) {
	t.Helper()
	if o.TLS == "" {
		o.TLS = "none"
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	c, err := imapbox.Dial(context.Background(), o)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

const mail = "From: chco@dhs.gov\r\nTo: bot@opm.gov\r\nSubject: hi\r\nMessage-ID: <%d@dhs.gov>\r\n\r\nbody\r\n"

// Each way of signing in, as the server offers: PLAIN, LOGIN where PLAIN
// is not offered, no password at all where LOGIN is disabled.
func TestDial_password(t *testing.T) {
	for _, c := range []struct {
		name    string
		o       localmail.IMAPOptions
		login   bool
		mech    string // what the server saw
		refused bool
	}{
		{"plain", localmail.IMAPOptions{}, false, "PLAIN", false},
		{"login asked for", localmail.IMAPOptions{}, true, "LOGIN", false},
		{"no AUTH=PLAIN", localmail.IMAPOptions{NoAuthPlain: true}, false, "LOGIN", false},
		{"LOGINDISABLED", localmail.IMAPOptions{NoAuthPlain: true, LoginDisabled: true}, false, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startIMAP(t, c.o)
			_, err := dial(t, imapbox.Options{Addr: s.Addr, SignIn: signin.Password(s.Username, s.Password, c.login)})
			auths := s.Auths()
			if c.refused {
				var se *imapbox.SignInError
				if !errors.As(err, &se) || len(auths) != 0 {
					t.Fatalf("err %v, %d sign-ins sent: want refused here, the password never sent", err, len(auths))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(auths) != 1 || auths[0].Mech != c.mech || !auths[0].OK {
				t.Errorf("server saw %+v, want one good %s", auths, c.mech)
			}
		})
	}
	s := startIMAP(t, localmail.IMAPOptions{})
	_, err := dial(t, imapbox.Options{Addr: s.Addr, SignIn: signin.Password(s.Username, "wrong", false)})
	var se *imapbox.SignInError
	if !errors.As(err, &se) || !se.Refused {
		t.Errorf("wrong password: %v, want a refused SignInError", err)
	}
}

// Bearer tokens, both mechanisms: a token the server refuses (revoked) is
// replaced and tried again at once, in the same Dial.
func TestDial_bearer(t *testing.T) {
	for _, mech := range []string{signin.XOAuth2, signin.OAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			idp := oauthtest.Start(t, oauthtest.Options{ClientID: "app", ClientSecret: "s", Username: "intake"})
			s := startIMAP(t, localmail.IMAPOptions{Bearer: func(user, token string) bool { u, ok := idp.Active(token); return ok && u == user }})
			fetch, _ := signin.ClientCredentials{TokenURL: idp.TokenURL, ClientID: "app", ClientSecret: "s"}.Fetcher()
			m, err := signin.Bearer(mech, s.Username, signin.NewTokens(fetch, signin.TokensOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			var refusals int
			o := imapbox.Options{Addr: s.Addr, SignIn: m, Refused: func(error) { refusals++ }}
			c, err := dial(t, o)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			idp.Revoke()
			if _, err := dial(t, o); err != nil {
				t.Fatalf("after the token was revoked: %v", err)
			}
			if refusals != 1 || idp.Requests() != 2 {
				t.Errorf("%d refusals, %d token requests; want 1 and 2", refusals, idp.Requests())
			}
			auths := s.Auths()
			if len(auths) != 3 || auths[0].Mech != mech || !auths[0].OK || auths[1].OK || !auths[2].OK {
				t.Errorf("server saw %+v, want %s good, refused, good", auths, mech)
			}
			// The provider refuses our client: no sign-in is even tried.
			idp.Revoke()
			idp.Refuse(true)
			_, err = dial(t, o)
			var te *signin.TokenError
			if !errors.As(err, &te) || !te.Refused {
				t.Errorf("provider refusing: %v, want a refused TokenError", err)
			}
		})
	}
}

// The same operations with and without MOVE: the mail ends in the folder,
// and without MOVE (nor UIDPLUS) the originals stay marked \Deleted.
func TestFile(t *testing.T) {
	for _, noMove := range []bool{false, true} {
		s := startIMAP(t, localmail.IMAPOptions{NoMove: noMove, Mailboxes: []string{"Accepted"}})
		for i := 0; i < 3; i++ {
			if _, err := s.Deliver("INBOX", []byte(strings.Replace(mail, "%d", string(rune('a'+i)), 1))); err != nil {
				t.Fatal(err)
			}
		}
		c, err := dial(t, imapbox.Options{Addr: s.Addr, SignIn: signin.Password(s.Username, s.Password, false)})
		if err != nil {
			t.Fatal(err)
		}
		sel, err := c.Select("INBOX", false)
		if err != nil {
			t.Fatal(err)
		}
		uids, err := c.UIDsAbove(0)
		if err != nil || len(uids) != 3 {
			t.Fatalf("uids %v, %v", uids, err)
		}
		if last, _ := c.LastUIDAtSelect(sel); last != uids[2] {
			t.Errorf("last UID at select %d, want %d", last, uids[2])
		}
		if more, _ := c.UIDsAbove(uint32(uids[2])); len(more) != 0 {
			t.Errorf("UIDs above the last: %v", more)
		}
		metas, err := c.FetchMeta(uids)
		if err != nil || len(metas) != 3 || metas[0].Size == 0 {
			t.Fatalf("meta %v, %v", metas, err)
		}
		var got []string
		if err := c.FetchEach(uids[:2], true, func(_ imap.UID, raw []byte) error {
			got = append(got, string(raw))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || strings.Contains(got[0], "body") {
			t.Errorf("header-only fetch: %q", got)
		}
		if err := c.File(uids[:2], "Accepted"); err != nil {
			t.Fatal(err)
		}
		if err := c.File(uids[:2], "Accepted"); err != nil { // again, as after a crash
			t.Fatal(err)
		}
		n, _ := s.Count("Accepted")
		live, _ := s.CountLive("INBOX")
		if n != 2 || live != 1 {
			t.Errorf("noMove=%v: Accepted %d, INBOX live %d; want 2, 1", noMove, n, live)
		}
		if err := c.File(uids[2:], "Nowhere"); !errors.Is(err, imapbox.ErrRefused) {
			t.Errorf("filing to a missing folder: %v, want ErrRefused", err)
		}
	}
}

// IDLE lasts at most 28 minutes however long the poll interval.
func TestIdlePeriod(t *testing.T) {
	if got := imapbox.IdlePeriod(time.Hour, true); got != imapbox.MaxIdle || got >= 29*time.Minute {
		t.Errorf("idling with a 1 h poll: %s", got)
	}
	if got := imapbox.IdlePeriod(time.Minute, true); got != time.Minute {
		t.Errorf("idling with a 1 min poll: %s", got)
	}
	if got := imapbox.IdlePeriod(time.Hour, false); got != time.Hour {
		t.Errorf("polling every hour: %s", got)
	}
}

// A server that accepts the connection and then says nothing: our own
// deadline ends the wait.
func TestDial_silentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: never greets
		}
	}()
	_, err = dial(t, imapbox.Options{Addr: ln.Addr().String(), SignIn: signin.Password("u", "p", false), Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("silent server: %v, want our deadline", err)
	}
	if err := imapbox.Probe(context.Background(), imapbox.Options{Addr: ln.Addr().String(), TLS: "none"}, 300*time.Millisecond); err == nil {
		t.Error("probe of a silent server succeeded")
	}
}

func TestProbe(t *testing.T) {
	s := startIMAP(t, localmail.IMAPOptions{})
	if err := imapbox.Probe(context.Background(), imapbox.Options{Addr: s.Addr, TLS: "none"}, time.Second); err != nil {
		t.Errorf("probe of a live server: %v", err)
	}
	addr := s.Addr
	s.Close()
	if err := imapbox.Probe(context.Background(), imapbox.Options{Addr: addr, TLS: "none"}, time.Second); err == nil {
		t.Error("probe of a stopped server succeeded")
	}
}
