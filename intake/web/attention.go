package web

import (
	"net/http"

	"intake/store"
)

// attentionLimit is how many items each part of the queue shows; each
// links to its whole list.
const attentionLimit = 10

// attentionView is the needs-attention queue: what staff should look at,
// by part, newest first, each with its count and a link to the whole
// list.
type attentionView struct {
	page
	Quarantined     mailPart
	Undecided       mailPart
	FailedReplies   replyPart
	HeldReplies     replyPart
	DeficientLatest []submissionRow
	Questions       []questionRow // open, oldest first
}

// mailPart and replyPart are parts of the queue, with the status filter of
// their whole list.
type mailPart struct {
	Rows   []messageRow
	Status string
}

type replyPart struct {
	Rows   []replyView
	Status string
}

func (s *Server) attention(w http.ResponseWriter, r *http.Request) {
	v := attentionView{page: s.newPage(r, "Needs attention", "attention"), Quarantined: mailPart{Status: store.StatusQuarantined},
		Undecided: mailPart{Status: store.StatusReceived}, FailedReplies: replyPart{Status: "problem"}, HeldReplies: replyPart{Status: store.OutboxHeld}}
	ctx := r.Context()
	for _, part := range []struct {
		statuses []string
		into     *[]messageRow
	}{{[]string{store.StatusQuarantined}, &v.Quarantined.Rows}, {[]string{store.StatusReceived}, &v.Undecided.Rows}} {
		ms, _, err := s.o.Store.SearchMessages(ctx, store.MessageQuery{Statuses: part.statuses, Desc: true, Limit: attentionLimit})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, m := range ms {
			*part.into = append(*part.into, messageRowOf(m))
		}
	}
	for _, part := range []struct {
		statuses []string
		into     *[]replyView
	}{{[]string{store.OutboxFailed, store.OutboxBounced}, &v.FailedReplies.Rows}, {[]string{store.OutboxHeld}, &v.HeldReplies.Rows}} {
		rs, _, err := s.o.Store.SearchReplies(ctx, store.ReplyQuery{Statuses: part.statuses, Desc: true, Limit: attentionLimit})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, o := range rs {
			*part.into = append(*part.into, replyRow(o, false))
		}
	}
	subs, _, err := s.o.Store.SearchSubmissions(ctx, store.SubmissionQuery{State: "deficient", LatestOnly: true, Desc: true,
		Limit: attentionLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, x := range subs {
		v.DeficientLatest = append(v.DeficientLatest, s.row(x))
	}
	qs, err := s.o.Store.Questions(ctx, store.QuestionFilter{Open: true, Limit: attentionLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, q := range qs {
		v.Questions = append(v.Questions, s.questionRowOf(r, q))
	}
	s.render(w, r, "attention", v)
}
