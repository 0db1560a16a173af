package web

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"intake/store"
)

// messageStatuses are the outcomes of mail that was not a submission.
var messageStatuses = []string{store.StatusQuarantined, store.StatusRejected, store.StatusIgnored, store.StatusBounce}

// messagesView lists mail that was not a submission.
type messagesView struct {
	page
	Status    string // the filter; "" = every status of messageStatuses
	Statuses  []string
	Messages  []messageRow
	Truncated bool
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
	ReceivedAt  time.Time
	ProcessedAt time.Time
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	v := messagesView{page: s.newPage(r, "Other mail", "messages"), Statuses: messageStatuses,
		Status: r.URL.Query().Get("status")}
	statuses := messageStatuses
	if slices.Contains(messageStatuses, v.Status) {
		statuses = []string{v.Status}
	} else {
		v.Status = ""
	}
	var all []store.Message
	for _, st := range statuses {
		ms, err := s.o.Store.Messages(r.Context(), store.MessageFilter{Status: st, Limit: listLimit + 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		all = append(all, ms...)
	}
	slices.SortFunc(all, func(a, b store.Message) int { return cmp.Compare(b.ID, a.ID) }) // newest first
	if len(all) > listLimit {
		all, v.Truncated = all[:listLimit], true
	}
	for _, m := range all {
		v.Messages = append(v.Messages, messageRow{ID: m.ID, MessageID: m.MessageID, From: m.From, Status: m.Status,
			Note: m.Note, LastError: m.LastError, Attempts: m.Attempts, Folder: m.Folder, Size: m.Size,
			ReceivedAt: m.ReceivedAt, ProcessedAt: m.ProcessedAt})
	}
	s.render(w, r, "messages", v)
}
