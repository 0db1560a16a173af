package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"intake/store"
)

// Questions: mail from an agency with no workbook that asks something
// waits here until a member of staff answers it (by mail or phone, outside
// the dashboard) and marks it answered. Analysts read them, add notes and
// mark them answered: answering agencies is an analyst's work, not an
// administrator's. Both actions are POSTs with the CSRF token, recorded in
// the audit log with the user's name before they are done.

// questionStates are the list's filter: open (the queue, the default),
// or all (answered ones too).
var questionStates = []string{"open", "all"}

// questionSorts: the list keeps the queue's order (open ones oldest first,
// then answered ones newest first).
var questionSorts = []string{"queue"}

// noteLimit bounds a staff note, in bytes.
const noteLimit = 4000

// questionRow is one question in the list.
type questionRow struct {
	ID         int64 // the stored message's id
	Agency     string
	AgencyName string
	Call       string
	Sender     string
	Subject    string
	AskedAt    time.Time
	AnsweredAt time.Time
	AnsweredBy string
}

// Open reports whether it waits for staff.
func (q questionRow) Open() bool { return q.AnsweredAt.IsZero() }

// questionRowOf is q as the user of r may see it: a question naming a
// call holding personal data the user is not granted has no subject.
func (s *Server) questionRowOf(r *http.Request, q store.Question) questionRow {
	row := questionRow{ID: q.Message, Agency: q.Agency, AgencyName: s.o.Agencies[q.Agency], Call: q.Call, Sender: q.Sender,
		Subject: q.Subject, AskedAt: q.AskedAt, AnsweredAt: q.AnsweredAt, AnsweredBy: q.AnsweredBy}
	if s.questionWithheld(r, q) {
		row.Subject = ""
	}
	return row
}

// questionWithheld: a question naming a call is that call's mail, shown
// as its records are.
func (s *Server) questionWithheld(r *http.Request, q store.Question) bool {
	return q.Call != "" && !signedIn(r).mayRecords(q.Call, s.o.Calls.Get(q.Call))
}

// questionsView lists the questions.
type questionsView struct {
	page
	List      listState
	State     string // "open" or "all"
	States    []string
	Questions []questionRow
}

func (s *Server) questions(w http.ResponseWriter, r *http.Request) {
	v := questionsView{page: s.newPage(r, "Questions", "questions"), States: questionStates, State: r.URL.Query().Get("state"),
		List: readList(r, "/questions", questionSorts, "queue", false, "state")}
	switch v.State {
	case "":
		v.State = "open"
	case "open", "all":
	default:
		s.fail(w, r, badFilter("no such state %q (want one of %s)", v.State, strings.Join(questionStates, ", ")))
		return
	}
	// The search finds the text in the question, or names an agency.
	f := store.QuestionFilter{Open: v.State == "open", Text: v.List.Q, Limit: v.List.Per, Offset: v.List.Offset()}
	total, err := s.o.Store.CountQuestions(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if total == 0 && v.List.Q != "" {
		if codes := s.agencyCodes(v.List.Q); len(codes) > 0 {
			f.Text, f.Agencies = "", codes
			if total, err = s.o.Store.CountQuestions(r.Context(), f); err != nil {
				s.fail(w, r, err)
				return
			}
		}
	}
	qs, err := s.o.Store.Questions(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.List.Total = total
	for _, q := range qs {
		v.Questions = append(v.Questions, s.questionRowOf(r, q))
	}
	s.render(w, r, "questions", v)
}

// questionView is one question: the incoming mail's subject and text,
// the staff's notes, our replies to it, and the forms to act on it.
type questionView struct {
	page
	questionRow
	Text     string
	Notes    []string // one a line: "<time> <user>: <text>"
	Withheld bool     // it names a call holding personal data the user is not granted
	Replies  []replyView
	Done     string
}

func (s *Server) question(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q, err := s.o.Store.Question(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := questionView{page: s.newPage(r, fmt.Sprintf("Question %d", id), "questions"), questionRow: s.questionRowOf(r, q),
		Withheld: s.questionWithheld(r, q), Done: doneNotice(r)}
	if !v.Withheld {
		if err := s.audit(r, store.AuditMail, q.Call, fmt.Sprintf("message %d", id), "question"); err != nil {
			s.fail(w, r, err)
			return
		}
		v.Text = q.Text
		if q.Notes != "" {
			v.Notes = strings.Split(q.Notes, "\n")
		}
	}
	replies, _, err := s.o.Store.SearchReplies(r.Context(), store.ReplyQuery{Answers: id, Sort: "created"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, o := range replies {
		v.Replies = append(v.Replies, replyRow(o, false))
	}
	s.render(w, r, "question", v)
}

// actNote: POST /questions/{id}/note adds the form's note (required).
func (s *Server) actNote(w http.ResponseWriter, r *http.Request) {
	s.noteQuestion(w, r, false)
}

// actAnswer: POST /questions/{id}/answer marks the question answered,
// with the form's note if any.
func (s *Server) actAnswer(w http.ResponseWriter, r *http.Request) {
	s.noteQuestion(w, r, true)
}

func (s *Server) noteQuestion(w http.ResponseWriter, r *http.Request, answered bool) {
	if !s.checkPost(w, r) {
		return
	}
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	switch {
	case !answered && note == "":
		http.Error(w, "bad request: the note is empty", http.StatusBadRequest)
		return
	case len(note) > noteLimit:
		http.Error(w, fmt.Sprintf("bad request: the note is over %d bytes", noteLimit), http.StatusBadRequest)
		return
	}
	q, err := s.o.Store.Question(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.questionWithheld(r, q) {
		s.forbidden(w, r, q.Call)
		return
	}
	action, done := store.AuditNote, "noted"
	if answered {
		action, done = store.AuditAnswer, "answered"
		if !q.Open() {
			http.Error(w, fmt.Sprintf("conflict: question %d was answered by %s; reload the page to see it", id, q.AnsweredBy), http.StatusConflict)
			return
		}
	}
	detail := ""
	if note != "" {
		detail = "with a note"
	}
	if err := s.audit(r, action, q.Call, fmt.Sprintf("question %d", id), detail); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.o.Store.NoteQuestion(r.Context(), id, signedIn(r).Name, note, answered, s.o.Now()); err != nil {
		if errors.Is(err, store.ErrAnswered) {
			http.Error(w, fmt.Sprintf("conflict: question %d was answered meanwhile; reload the page to see it", id), http.StatusConflict)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: question "+done, "user", signedIn(r).Name, "question", id)
	http.Redirect(w, r, fmt.Sprintf("/questions/%d?done=%s", id, done), http.StatusSeeOther)
}
