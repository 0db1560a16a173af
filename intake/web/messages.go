package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"intake/store"
)

// messageStatuses are the statuses a stored mail can be in, as the mail
// list filters them.
var messageStatuses = []string{store.StatusReceived, store.StatusQuarantined, store.StatusRejected, store.StatusIgnored,
	store.StatusBounce, store.StatusAccepted, store.StatusDeficient, store.StatusQuestion}

// messageSorts are the columns the mail list sorts by.
var messageSorts = []string{"received", "from", "status", "attempts"}

// messagesView lists the stored mail.
type messagesView struct {
	page
	List     listState
	Status   string // the filter; "" = any
	Statuses []string
	Messages []messageRow
}

type messageRow struct {
	ID          int64
	MessageID   string
	From        string
	Status      string
	Note        string
	LastError   string
	Attempts    int
	Folder      string
	Size        int64
	Agency      string
	Call        string
	Receipt     string
	ReceivedAt  time.Time
	ProcessedAt time.Time
}

// Replayable tells whether staff may have the daemon decide it again:
// quarantined, rejected or ignored mail that got no receipt.
func (m messageRow) Replayable() bool {
	return m.Receipt == "" && (m.Status == store.StatusQuarantined || m.Status == store.StatusRejected || m.Status == store.StatusIgnored)
}

func messageRowOf(m store.Message) messageRow {
	return messageRow{ID: m.ID, MessageID: m.MessageID, From: m.From, Status: m.Status, Note: m.Note, LastError: m.LastError,
		Attempts: m.Attempts, Folder: m.Folder, Size: m.Size, Agency: m.Agency, Call: m.Call, Receipt: m.Receipt,
		ReceivedAt: m.ReceivedAt, ProcessedAt: m.ProcessedAt}
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	v := messagesView{page: s.newPage(r, "Mail", "messages"), Statuses: messageStatuses, Status: r.URL.Query().Get("status"),
		List: readList(r, "/messages", messageSorts, "received", true, "status")}
	q := store.MessageQuery{Text: v.List.Q, Sort: v.List.Sort, Desc: v.List.Desc, Limit: v.List.Per, Offset: v.List.Offset()}
	if v.Status != "" {
		q.Statuses = []string{v.Status} // the store refuses an unknown one (400)
	}
	ms, total, err := s.o.Store.SearchMessages(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.List.Total = total
	for _, m := range ms {
		v.Messages = append(v.Messages, messageRowOf(m))
	}
	s.render(w, r, "messages", v)
}

// messageView is one stored mail: how it was decided, the mail itself,
// and our replies to it.
type messageView struct {
	page
	messageRow
	// Mail is the mail as received; nil when withheld (a mail of a call
	// holding personal data, for a user without its grant).
	Mail      *mailView
	Withheld  bool
	Replies   []replyView
	CanReplay bool // a daemon runs that can decide it again
	Done      string
}

func (s *Server) message(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	m, err := s.o.Store.Message(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := messageView{page: s.newPage(r, fmt.Sprintf("Mail %d", id), "messages"), messageRow: messageRowOf(*m),
		CanReplay: s.o.Replay != nil, Done: doneNotice(r)}
	// Mail naming no call (quarantined, rejected) is shown to analysts; a
	// call's mail as its records are.
	v.Withheld = m.Call != "" && !signedIn(r).mayRecords(m.Call, s.o.Calls.Get(m.Call))
	if !v.Withheld {
		if err := s.audit(r, store.AuditMail, m.Call, fmt.Sprintf("message %d", id), ""); err != nil {
			s.fail(w, r, err)
			return
		}
		mv := readMail(m.Raw, m.Truncated)
		v.Mail = &mv
	}
	replies, _, err := s.o.Store.SearchReplies(r.Context(), store.ReplyQuery{Answers: id, Sort: "created"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, o := range replies {
		v.Replies = append(v.Replies, replyRow(o, false))
	}
	s.render(w, r, "message", v)
}
