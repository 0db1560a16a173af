package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"intake/store"
)

// The staff actions on the mail: replay a stored message, release a held
// reply, send a reply again. Each is a POST by an admin carrying the
// form's CSRF token, from this dashboard's own pages (checkPost), and is
// written to the audit log, with the user's name, before it is done: an
// action that cannot be recorded is not done.

// doneNotices are the notices a page shows after an action (?done=KEY);
// only these texts are ever shown.
var doneNotices = map[string]string{
	"replayed": "The mail was decided again; its reply, if any, is queued.",
	"released": "The reply was released and is queued to be sent.",
	"resent":   "The reply is queued to be sent again.",
	"noted":    "Your note was added.",
	"answered": "The question is marked answered.",
}

func doneNotice(r *http.Request) string { return doneNotices[r.URL.Query().Get("done")] }

// pathID reads the {id} of the path.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// actionFailed answers an action the store refused or could not do.
func (s *Server) actionFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrStatus) {
		http.Error(w, "conflict: "+err.Error()+"; reload the page to see where it stands", http.StatusConflict)
		return
	}
	s.fail(w, r, err)
}

// actReplay: POST /messages/{id}/replay has the daemon decide a
// quarantined, rejected or ignored message again.
func (s *Server) actReplay(w http.ResponseWriter, r *http.Request) {
	if !s.checkPost(w, r) {
		return
	}
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.o.Replay == nil {
		http.Error(w, "replay needs the daemon: it is offered by the dashboard of intake run", http.StatusServiceUnavailable)
		return
	}
	m, err := s.o.Store.Message(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !messageRowOf(*m).Replayable() {
		http.Error(w, fmt.Sprintf("conflict: message %d is %s; only quarantined, rejected or ignored mail without a receipt is replayed", id, m.Status), http.StatusConflict)
		return
	}
	if err := s.audit(r, store.AuditReplay, m.Call, fmt.Sprintf("message %d", id), "was "+m.Status); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.o.Replay(r.Context(), id); err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.log.Info("web: replayed", "user", signedIn(r).Name, "message", id)
	s.wake()
	http.Redirect(w, r, fmt.Sprintf("/messages/%d?done=replayed", id), http.StatusSeeOther)
}

// actRelease: POST /replies/{id}/release lets a held reply go out.
func (s *Server) actRelease(w http.ResponseWriter, r *http.Request) {
	s.requeue(w, r, "released", store.AuditRelease, s.o.Store.ReleaseReply)
}

// actResend: POST /replies/{id}/resend sends a reply again.
func (s *Server) actResend(w http.ResponseWriter, r *http.Request) {
	s.requeue(w, r, "resent", store.AuditResend, s.o.Store.ResendReply)
}

func (s *Server) requeue(w http.ResponseWriter, r *http.Request, done, action string, do func(ctx context.Context, id int64, now time.Time) error) {
	if !s.checkPost(w, r) {
		return
	}
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	o, err := s.o.Store.Reply(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	call := ""
	if o.Receipt != "" {
		if call, err = s.o.Store.SubmissionCall(r.Context(), o.Receipt); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	v := replyRow(*o, false)
	if (done == "released" && !v.Releasable()) || (done == "resent" && !v.Resendable()) {
		http.Error(w, fmt.Sprintf("conflict: reply %d is %s", id, o.Status), http.StatusConflict)
		return
	}
	if err := s.audit(r, action, call, fmt.Sprintf("reply %d %s", id, o.MessageID), "was "+o.Status); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := do(r.Context(), id, s.o.Now()); err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.log.Info("web: reply "+done, "user", signedIn(r).Name, "reply", id)
	s.wake()
	http.Redirect(w, r, fmt.Sprintf("/replies/%d?done=%s", id, done), http.StatusSeeOther)
}

// wake tells the daemon's outbox that a reply may be due now.
func (s *Server) wake() {
	if s.o.WakeOutbox != nil {
		s.o.WakeOutbox()
	}
}
