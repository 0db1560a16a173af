// Package localmail runs real IMAP and SMTP servers in-process on loopback:
// go-imap's imapmemserver behind imapserver, and a go-smtp server that keeps
// what it receives. `intake demo` runs on them, and so do the tests, so
// both drive the daemon over the same wire protocols as production.
package localmail

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// IMAPOptions configures an in-process IMAP server. The zero value gives
// user "intake" with password "intake" and an INBOX, offering MOVE and IDLE.
type IMAPOptions struct {
	Username, Password string
	Mailboxes          []string // created besides INBOX
	NoMove             bool     // leave out MOVE (and UIDPLUS): clients fall back to COPY+EXPUNGE
	// XOAuth2Token, when set, makes the server offer AUTHENTICATE XOAUTH2
	// (RFC 7628's predecessor, used by Google and Microsoft) and accept
	// this bearer token for Username.
	XOAuth2Token string
	Addr         string // listen address; default 127.0.0.1:0
}

// IMAPServer is a running in-process IMAP server.
type IMAPServer struct {
	Addr     string
	Username string
	Password string

	user *imapmemserver.User
	ln   net.Listener
	srv  *imapserver.Server
	done chan struct{}
}

// StartIMAP starts an IMAP server on loopback. Close stops it.
func StartIMAP(o IMAPOptions) (*IMAPServer, error) {
	if o.Username == "" {
		o.Username, o.Password = "intake", "intake"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(o.Username, o.Password)
	for _, name := range append([]string{"INBOX"}, o.Mailboxes...) {
		if err := user.Create(name, nil); err != nil {
			return nil, fmt.Errorf("localmail: create %s: %w", name, err)
		}
	}
	mem.AddUser(user)
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapIdle: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}
	if o.NoMove {
		// IMAP4rev2 implies MOVE and UIDPLUS, so advertise only rev1.
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess := mem.NewSession()
			if o.XOAuth2Token != "" {
				return &xoauth2Session{SessionIMAP4rev2: sess.(imapserver.SessionIMAP4rev2), user: o.Username, password: o.Password, token: o.XOAuth2Token}, nil, nil
			}
			return sess, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true, // loopback only
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("localmail: listen: %w", err)
	}
	s := &IMAPServer{Addr: ln.Addr().String(), Username: o.Username, Password: o.Password, user: user, ln: ln, srv: srv, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and drops every connection.
func (s *IMAPServer) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Deliver appends a message to a mailbox, as an MTA delivering mail would.
func (s *IMAPServer) Deliver(mailbox string, raw []byte) (imap.UID, error) {
	return s.DeliverAt(mailbox, raw, time.Now())
}

// DeliverAt delivers a message as received by the server at t (its
// INTERNALDATE).
func (s *IMAPServer) DeliverAt(mailbox string, raw []byte, t time.Time) (imap.UID, error) {
	data, err := s.user.Append(mailbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Time: t})
	if err != nil {
		return 0, fmt.Errorf("localmail: deliver to %s: %w", mailbox, err)
	}
	return data.UID, nil
}

// Count returns the number of messages in a mailbox.
func (s *IMAPServer) Count(mailbox string) (int, error) {
	st, err := s.user.Status(mailbox, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0, fmt.Errorf("localmail: status %s: %w", mailbox, err)
	}
	return int(*st.NumMessages), nil
}

type literal struct {
	io.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// xoauth2Session adds the XOAUTH2 mechanism to a session of the memory
// server: a client presenting the right token for the user is logged in.
type xoauth2Session struct {
	imapserver.SessionIMAP4rev2
	user, password, token string
}

func (s *xoauth2Session) AuthenticateMechanisms() []string { return []string{"XOAUTH2"} }

func (s *xoauth2Session) Authenticate(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
	}
	return xoauth2Server(func(resp []byte) error {
		if user, auth := parseXOAuth2(resp); user != s.user || auth != "Bearer "+s.token {
			return imapserver.ErrAuthFailed
		}
		return s.Login(s.user, s.password)
	}), nil
}

// xoauth2Server is a one-step SASL server.
type xoauth2Server func(resp []byte) error

func (f xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	return nil, true, f(resp)
}

// parseXOAuth2 reads "user=" U "\x01auth=" A "\x01\x01".
func parseXOAuth2(resp []byte) (user, auth string) {
	for _, kv := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(kv, "user="); ok {
			user = v
		} else if v, ok := strings.CutPrefix(kv, "auth="); ok {
			auth = v
		}
	}
	return user, auth
}
