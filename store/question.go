package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NewQuestion is a question to store with its message (Completion.Question):
// mail from an agency that carried no workbook and asks something.
type NewQuestion struct {
	Subject string
	Text    string    // the mail's text
	AskedAt time.Time // when OPM's server received it (zero: Completion.Now)
}

// Question is a stored question and where it stands.
type Question struct {
	Message    int64 // the stored message's id: the question's number
	Agency     string
	Call       string // the call it names, "" if none
	Sender     string
	Subject    string
	Text       string
	AskedAt    time.Time
	AnsweredAt time.Time // zero while open
	AnsweredBy string
	Notes      string // staff notes, one per line: "<time> <user>: <text>"
}

// Open reports whether the question waits for staff.
func (q Question) Open() bool { return q.AnsweredAt.IsZero() }

// ErrAnswered: the question was marked answered already.
var ErrAnswered = errors.New("store: question already answered")

func insertQuestion(ctx context.Context, tx *sql.Tx, c Completion, now time.Time) error {
	q := c.Question
	asked := q.AskedAt
	if asked.IsZero() {
		asked = now
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO questions (message, agency, call, sender, subject, text, asked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.Message, c.Agency, c.Call, c.From, q.Subject, q.Text, ts(asked)); err != nil {
		return fmt.Errorf("store: insert question %d: %w", c.Message, err)
	}
	return nil
}

// QuestionFilter selects questions. Zero values select all.
type QuestionFilter struct {
	Open     bool     // only those not answered
	Agencies []string // any of these agency codes; empty: any
	// Text is searched for, anywhere and in any case, in the sender, the
	// agency code, the subject, the text and the notes.
	Text   string
	Limit  int // <= 0 = no limit
	Offset int
}

func (f QuestionFilter) where() (string, []any) {
	var w where
	if f.Open {
		w.add("answered_at IS NULL")
	}
	if len(f.Agencies) > 0 {
		w.in("agency", f.Agencies)
	}
	w.contains(f.Text, []string{"sender", "agency", "subject", "text", "notes"}, nil)
	return w.clause(), w.args
}

const questionColumns = `message, agency, call, sender, subject, text, asked_at, answered_at, answered_by, notes`

func scanQuestion(r rowScanner) (Question, error) {
	var (
		q               Question
		asked, answered sql.NullString
	)
	if err := r.Scan(&q.Message, &q.Agency, &q.Call, &q.Sender, &q.Subject, &q.Text, &asked, &answered, &q.AnsweredBy, &q.Notes); err != nil {
		return q, err
	}
	var err error
	if q.AskedAt, err = parseTS(asked); err != nil {
		return q, err
	}
	q.AnsweredAt, err = parseTS(answered)
	return q, err
}

// Questions lists questions, the oldest open ones first (the queue), then
// the answered ones, newest first.
func (s *Store) Questions(ctx context.Context, f QuestionFilter) ([]Question, error) {
	where, args := f.where()
	q, args := limitSkip(`SELECT `+questionColumns+` FROM questions`+where+
		` ORDER BY answered_at IS NOT NULL, CASE WHEN answered_at IS NULL THEN message ELSE -message END`, args, f.Limit, f.Offset)
	out, err := queryAll(ctx, s.rdb, scanQuestion, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: questions: %w", err)
	}
	if out == nil {
		out = []Question{} // none is an empty list, not nil
	}
	return out, nil
}

// CountQuestions returns how many questions f selects, Limit and Offset
// aside.
func (s *Store) CountQuestions(ctx context.Context, f QuestionFilter) (int, error) {
	where, args := f.where()
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM questions`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count questions: %w", err)
	}
	return n, nil
}

// Question returns one question by its message id; ErrNotFound when there
// is none.
func (s *Store) Question(ctx context.Context, message int64) (Question, error) {
	q, err := scanQuestion(s.rdb.QueryRowContext(ctx, `SELECT `+questionColumns+` FROM questions WHERE message = ?`, message))
	if errors.Is(err, sql.ErrNoRows) {
		return Question{}, ErrNotFound
	}
	if err != nil {
		return Question{}, fmt.Errorf("store: question %d: %w", message, err)
	}
	return q, nil
}

// NoteQuestion adds a staff note to a question, with when and who, and,
// with answered, marks it answered by that user. A question already
// answered takes more notes but is not answered twice (ErrAnswered);
// ErrNotFound for an unknown one. An empty note with answered only marks
// it.
func (s *Store) NoteQuestion(ctx context.Context, message int64, user, note string, answered bool, now time.Time) error {
	if strings.TrimSpace(user) == "" {
		return fmt.Errorf("store: note question %d: no user", message)
	}
	note = strings.Join(strings.Fields(note), " ")
	return s.write(ctx, func(tx *sql.Tx) error {
		var done sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT answered_at FROM questions WHERE message = ?`, message).Scan(&done)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: note question %d: %w", message, err)
		}
		if answered && done.Valid {
			return ErrAnswered
		}
		if note != "" {
			line := now.UTC().Format(time.RFC3339) + " " + user + ": " + note
			if _, err := tx.ExecContext(ctx, `UPDATE questions SET notes = CASE WHEN notes = '' THEN ? ELSE notes || char(10) || ? END
				WHERE message = ?`, line, line, message); err != nil {
				return fmt.Errorf("store: note question %d: %w", message, err)
			}
		}
		if answered {
			if _, err := tx.ExecContext(ctx, `UPDATE questions SET answered_at = ?, answered_by = ? WHERE message = ?`,
				ts(now), user, message); err != nil {
				return fmt.Errorf("store: answer question %d: %w", message, err)
			}
		}
		return nil
	})
}
