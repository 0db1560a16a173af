package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"intake/store"
)

// replyStatuses are the outbox's statuses, as the replies list filters
// them.
var replyStatuses = []string{store.OutboxQueued, store.OutboxSent, store.OutboxFailed, store.OutboxBounced, store.OutboxHeld}

// replySorts are the columns the replies list sorts by.
var replySorts = []string{"created", "status", "kind", "attempts"}

// repliesView lists our replies.
type repliesView struct {
	page
	List     listState
	Status   string // the filter: a status, "problem" (failed or bounced), or "" for any
	Statuses []string
	Replies  []replyView
}

func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	v := repliesView{page: s.newPage(r, "Replies", "replies"), Statuses: append(slices.Clone(replyStatuses), "problem"),
		Status: r.URL.Query().Get("status"), List: readList(r, "/replies", replySorts, "created", true, "status")}
	q := store.ReplyQuery{Text: v.List.Q, Sort: v.List.Sort, Desc: v.List.Desc, Limit: v.List.Per, Offset: v.List.Offset()}
	switch {
	case v.Status == "problem":
		q.Statuses = []string{store.OutboxFailed, store.OutboxBounced}
	case v.Status != "":
		q.Statuses = []string{v.Status} // the store refuses an unknown one (400)
	}
	list, total, err := s.o.Store.SearchReplies(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.List.Total = total
	for _, o := range list {
		v.Replies = append(v.Replies, replyRow(o, false))
	}
	s.render(w, r, "replies", v)
}

// replyPage is one reply as it was (or is to be) sent.
type replyPage struct {
	page
	Reply replyView
	Done  string
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	o, err := s.o.Store.Reply(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "reply", replyPage{page: s.newPage(r, fmt.Sprintf("Reply %d", id), "replies"), Reply: replyRow(*o, true),
		Done: doneNotice(r)})
}
