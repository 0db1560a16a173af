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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// IMAPOptions configures an in-process IMAP server. The zero value gives
// user "intake" with password "intake" and an INBOX, offering MOVE, IDLE,
// LOGIN and AUTHENTICATE PLAIN.
type IMAPOptions struct {
	Username, Password string
	Mailboxes          []string // created besides INBOX
	NoMove             bool     // leave out MOVE (and UIDPLUS): clients fall back to COPY+EXPUNGE
	// XOAuth2Token, when set, makes the server offer AUTHENTICATE XOAUTH2
	// (RFC 7628's predecessor, used by Google and Microsoft) and accept
	// this bearer token for Username, instead of AUTHENTICATE PLAIN.
	XOAuth2Token string
	// Bearer, when set, makes the server offer AUTHENTICATE XOAUTH2 and
	// OAUTHBEARER (RFC 7628), instead of PLAIN, asking Bearer whether the
	// token is good for the user (as Dovecot asks an introspection
	// endpoint).
	Bearer func(user, token string) bool
	Addr   string // listen address; default 127.0.0.1:0

	// The server variants below hide a capability or a response from
	// clients by editing the server's response lines on the wire.

	NoIdle        bool // leave IDLE out of the capabilities, and refuse the command
	NoAuthPlain   bool // offer no AUTHENTICATE mechanism (AUTH=PLAIN): LOGIN only
	LoginDisabled bool // advertise LOGINDISABLED and refuse LOGIN
	NoUIDNext     bool // send no UIDNEXT on SELECT (it is optional in RFC 3501)
	// OnFetch, when set, is called with each FETCH command's message set
	// (UIDs for UID FETCH) and items before it is answered.
	OnFetch func(set imap.NumSet, options *imap.FetchOptions)
	// RefuseFilingTo names a folder MOVE and COPY into which are answered
	// NO, as a server over quota or without the rights does.
	RefuseFilingTo string
}

// IMAPServer is a running in-process IMAP server.
type IMAPServer struct {
	Addr     string
	Username string
	Password string

	o    IMAPOptions
	user *imapmemserver.User
	ln   net.Listener
	srv  *imapserver.Server
	done chan struct{}

	idles, idling atomic.Int32
	mu            sync.Mutex
	auths         []AuthAttempt
}

// AuthAttempt is one LOGIN or AUTHENTICATE the server received.
type AuthAttempt struct {
	Mech string // "LOGIN", "PLAIN" or "XOAUTH2"
	OK   bool
}

// StartIMAP starts an IMAP server on loopback. Close stops it.
func StartIMAP(o IMAPOptions) (*IMAPServer, error) {
	if o.Username == "" {
		o.Username, o.Password = "intake", "intake"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Bearer == nil && o.XOAuth2Token != "" {
		token := o.XOAuth2Token
		o.Bearer = func(_, t string) bool { return t == token }
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
	if o.NoMove || o.NoIdle {
		// IMAP4rev2 implies MOVE, UIDPLUS and IDLE, so advertise only rev1
		// (for which the server library always adds IDLE: editLine takes it
		// out again).
		caps = imap.CapSet{imap.CapIMAP4rev1: {}}
		if !o.NoMove {
			caps[imap.CapMove], caps[imap.CapUIDPlus] = struct{}{}, struct{}{}
		}
	}
	s := &IMAPServer{Username: o.Username, Password: o.Password, o: o, user: user, done: make(chan struct{})}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{SessionIMAP4rev2: mem.NewSession().(imapserver.SessionIMAP4rev2), srv: s}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true, // loopback only
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("localmail: listen: %w", err)
	}
	s.Addr, s.ln = ln.Addr().String(), ln
	if o.NoIdle || o.LoginDisabled || o.NoUIDNext {
		ln = &editListener{Listener: ln, edit: s.editLine}
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
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

// CountLive returns the number of messages in mailbox not marked \Deleted:
// what a client sees once it expunges. Without MOVE a filed mail stays in
// the INBOX, marked.
func (s *IMAPServer) CountLive(mailbox string) (int, error) {
	st, err := s.user.Status(mailbox, &imap.StatusOptions{NumMessages: true, NumDeleted: true})
	if err != nil {
		return 0, fmt.Errorf("localmail: status %s: %w", mailbox, err)
	}
	return int(*st.NumMessages) - int(*st.NumDeleted), nil
}

// Recreate deletes a mailbox with everything in it and creates it anew,
// empty and under a new UIDVALIDITY, as a move to another server does;
// deliver again (DeliverAt, with the original dates) what it should hold.
// Stop the clients that have it selected first.
func (s *IMAPServer) Recreate(mailbox string) error {
	if err := s.user.Delete(mailbox); err != nil {
		return fmt.Errorf("localmail: recreate %s: %w", mailbox, err)
	}
	if err := s.user.Create(mailbox, nil); err != nil {
		return fmt.Errorf("localmail: recreate %s: %w", mailbox, err)
	}
	return nil
}

// Auths returns the LOGIN and AUTHENTICATE commands received, in order.
func (s *IMAPServer) Auths() []AuthAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// Idles returns the number of IDLE commands received.
func (s *IMAPServer) Idles() int { return int(s.idles.Load()) }

// Idling returns the number of sessions in IDLE now.
func (s *IMAPServer) Idling() int { return int(s.idling.Load()) }

func (s *IMAPServer) authAttempt(mech string, ok bool) {
	s.mu.Lock()
	s.auths = append(s.auths, AuthAttempt{Mech: mech, OK: ok})
	s.mu.Unlock()
}

// session is a session of the memory server with the authentication,
// IDLE and FETCH of the configured variant, recorded for tests.
type session struct {
	imapserver.SessionIMAP4rev2
	srv *IMAPServer
}

var _ imapserver.SessionSASL = (*session)(nil)

func (s *session) AuthenticateMechanisms() []string {
	switch {
	case s.srv.o.Bearer != nil:
		return []string{"XOAUTH2", sasl.OAuthBearer}
	case s.srv.o.NoAuthPlain:
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Authenticate(mech string) (sasl.Server, error) {
	if !slices.Contains(s.AuthenticateMechanisms(), mech) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
	}
	o := s.srv.o
	bearer := func(user, token string) error {
		if user != o.Username || !o.Bearer(user, token) {
			s.srv.authAttempt(mech, false)
			return imapserver.ErrAuthFailed
		}
		return s.login(mech, o.Username, o.Password)
	}
	switch mech {
	case "XOAUTH2":
		return xoauth2Server(func(resp []byte) error {
			user, auth := parseXOAuth2(resp)
			token, _ := strings.CutPrefix(auth, "Bearer ")
			return bearer(user, token)
		}), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(opts sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if bearer(opts.Username, opts.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "SASL identity not supported"}
		}
		return s.login(mech, username, password)
	}), nil
}

// Login is the LOGIN command.
func (s *session) Login(username, password string) error {
	if s.srv.o.LoginDisabled {
		s.srv.authAttempt("LOGIN", false)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "LOGIN is disabled"}
	}
	return s.login("LOGIN", username, password)
}

func (s *session) login(mech, username, password string) error {
	err := s.SessionIMAP4rev2.Login(username, password)
	s.srv.authAttempt(mech, err == nil)
	return err
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.srv.idles.Add(1)
	if s.srv.o.NoIdle {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "IDLE is not supported"}
	}
	s.srv.idling.Add(1)
	defer s.srv.idling.Add(-1)
	return s.SessionIMAP4rev2.Idle(w, stop)
}

func (s *session) Fetch(w *imapserver.FetchWriter, set imap.NumSet, options *imap.FetchOptions) error {
	if s.srv.o.OnFetch != nil {
		s.srv.o.OnFetch(set, options)
	}
	return s.SessionIMAP4rev2.Fetch(w, set, options)
}

// editLine edits one response line (without its CRLF) for the configured
// variant; nil drops it.
func (s *IMAPServer) editLine(line []byte) []byte {
	if s.o.NoUIDNext && bytes.HasPrefix(line, []byte("* OK [UIDNEXT ")) {
		return nil
	}
	start, end := capsSpan(line)
	if start < 0 {
		return line
	}
	var caps []string
	for _, c := range strings.Fields(string(line[start:end])) {
		if s.o.NoIdle && strings.EqualFold(c, string(imap.CapIdle)) {
			continue
		}
		caps = append(caps, c)
	}
	if s.o.LoginDisabled {
		caps = append(caps, string(imap.CapLoginDisabled))
	}
	out := slices.Clone(line[:start])
	out = append(out, strings.Join(caps, " ")...)
	return append(out, line[end:]...)
}

// capsSpan finds the capability list of a CAPABILITY response
// ("* CAPABILITY ...") or response code ("tag OK [CAPABILITY ...] text");
// start is -1 when the line has none.
func capsSpan(line []byte) (start, end int) {
	if rest, ok := bytes.CutPrefix(line, []byte("* CAPABILITY ")); ok {
		return len(line) - len(rest), len(line)
	}
	tag, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(tag) == 0 {
		return -1, 0
	}
	rest, ok = bytes.CutPrefix(rest, []byte("OK [CAPABILITY "))
	if !ok {
		return -1, 0
	}
	start = len(line) - len(rest)
	i := bytes.IndexByte(rest, ']')
	if i < 0 {
		return -1, 0
	}
	return start, start + i
}

// editListener hands out connections whose response lines are edited.
type editListener struct {
	net.Listener
	edit func(line []byte) []byte
}

func (l *editListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &editConn{Conn: c, edit: l.edit}, nil
}

// editConn passes each complete line the server writes through edit, and
// literals ("{n}" then n bytes: message text) through unchanged.
type editConn struct {
	net.Conn
	edit func(line []byte) []byte

	mu      sync.Mutex
	pending []byte // the start of a line not yet ended
	literal int64  // literal bytes still to pass through
}

func (c *editConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []byte
	for rest := p; len(rest) > 0; {
		if c.literal > 0 {
			n := int(min(int64(len(rest)), c.literal))
			out = append(out, rest[:n]...)
			rest, c.literal = rest[n:], c.literal-int64(n)
			continue
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			c.pending = append(c.pending, rest...)
			break
		}
		line := append(c.pending, rest[:i]...)
		c.pending, rest = nil, rest[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		c.literal = literalSize(line)
		if line = c.edit(line); line != nil {
			out = append(append(out, line...), '\r', '\n')
		}
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// literalSize reads the "{n}" that ends a line announcing a literal; 0
// when there is none.
func literalSize(line []byte) int64 {
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(string(line[i+1:len(line)-1]), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

type literal struct {
	io.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

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

// Move and Copy of messages that are no longer there (moved by an earlier
// session) answer OK with nothing done, as real servers do; the memory
// server would answer with an empty COPYUID the client cannot parse.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if err := s.refuse(dest); err != nil {
		return err
	}
	if none, err := s.matchesNone(numSet); err != nil || none {
		return err
	}
	return s.SessionIMAP4rev2.Move(w, numSet, dest)
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if err := s.refuse(dest); err != nil {
		return nil, err
	}
	if none, err := s.matchesNone(numSet); err != nil || none {
		return nil, err
	}
	return s.SessionIMAP4rev2.Copy(numSet, dest)
}

func (s *session) refuse(dest string) error {
	if s.srv.o.RefuseFilingTo != "" && dest == s.srv.o.RefuseFilingTo {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded"}
	}
	return nil
}

func (s *session) matchesNone(numSet imap.NumSet) (bool, error) {
	criteria := &imap.SearchCriteria{}
	kind := imapserver.NumKindSeq
	switch set := numSet.(type) {
	case imap.UIDSet:
		kind, criteria.UID = imapserver.NumKindUID, []imap.UIDSet{set}
	case imap.SeqSet:
		criteria.SeqNum = []imap.SeqSet{set}
	}
	data, err := s.SessionIMAP4rev2.Search(kind, criteria, &imap.SearchOptions{ReturnCount: true})
	if err != nil {
		return false, err
	}
	return data.Count == 0, nil
}
