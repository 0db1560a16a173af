package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"intake/store"
)

// cmdQuestion: questions from agencies, waiting for staff.
//
//	intake question list [--all] [--agency A] [--limit N] [--offset N]
//	intake question show ID
//	intake question answer ID [--note TEXT]   (marks it answered)
//	intake question note ID --note TEXT       (a note, still open)
func cmdQuestion(ctx context.Context, e *env, args []string) error {
	const usage = "usage: intake question list [--all] [--agency A] | show ID | answer ID [--note TEXT] | note ID --note TEXT   (--config FILE, --store FILE)"
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "list":
		return questionList(ctx, e, args[1:])
	case "show":
		return questionShow(ctx, e, args[1:])
	case "answer", "note":
		return questionNote(ctx, e, args[0], args[1:])
	case "-h", "-help", "--help":
		fmt.Fprintln(e.stdout, usage)
		return nil
	}
	fmt.Fprintf(e.stderr, "intake question: unknown subcommand %q\n%s\n", args[0], usage)
	return errUsage
}

func questionList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "question list", "[--all] [--agency A] [--limit N] [--offset N] [--config FILE] [--store FILE]")
	config, storePath := staffFlags(fs)
	all := fs.Bool("all", false, "answered questions too (default: the open ones, oldest first)")
	agency := fs.String("agency", "", "only agencies whose code, name or mail domain contains this, or their initials")
	limit := fs.Int("limit", 50, "at most this many (0: all)")
	offset := fs.Int("offset", 0, "skip this many")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *limit < 0 || *offset < 0 {
		return errors.New("question list: --limit and --offset cannot be negative")
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	f := store.QuestionFilter{Open: !*all, Limit: *limit, Offset: *offset}
	if *agency != "" {
		if f.Agencies, err = a.agencyCodes(ctx, *agency); err != nil {
			return err
		}
	}
	total, err := a.store.CountQuestions(ctx, f)
	if err != nil {
		return err
	}
	qs, err := a.store.Questions(ctx, f)
	if err != nil {
		return err
	}
	t := &table{head: []string{"ID", "ASKED", "AGENCY", "STATE", "FROM", "SUBJECT"}, flex: 5}
	for _, q := range qs {
		state := "open"
		if !q.Open() {
			state = "answered"
		}
		t.add(strconv.FormatInt(q.Message, 10), q.AskedAt.Format("2006-01-02 15:04"), q.Agency, state, fit(q.Sender, 28), q.Subject)
	}
	t.print(e.stdout)
	shown(e.stdout, len(qs), *offset, total)
	if len(qs) > 0 {
		fmt.Fprintln(e.stdout, "`intake question show ID` has the text; `intake question answer ID --note TEXT` closes one.")
	}
	return nil
}

// questionID parses the one argument, a question's number.
func questionID(fs interface {
	Arg(int) string
	NArg() int
}, name string) (int64, error) {
	if fs.NArg() != 1 {
		return 0, errUsage
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("question %s: %q is not a question number (`intake question list` shows them)", name, fs.Arg(0))
	}
	return id, nil
}

func questionShow(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "question show", "ID [--config FILE] [--store FILE]")
	config, storePath := staffFlags(fs)
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	id, err := questionID(fs, "show")
	if errors.Is(err, errUsage) {
		fs.Usage()
	}
	if err != nil {
		return err
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	q, err := a.store.Question(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no question %d (`intake question list --all` shows them)", id)
	}
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "Question:  %d\nAgency:    %s\nFrom:      %s\nAsked:     %s\n", q.Message, q.Agency, oneLine(q.Sender), q.AskedAt.Format(time.RFC1123Z))
	if q.Call != "" {
		fmt.Fprintf(w, "Call:      %s\n", q.Call)
	}
	wrap(w, "Subject:   ", q.Subject)
	if q.Open() {
		fmt.Fprintln(w, "State:     open")
	} else {
		fmt.Fprintf(w, "State:     answered by %s, %s\n", q.AnsweredBy, q.AnsweredAt.Format(time.RFC1123Z))
	}
	fmt.Fprintln(w)
	for _, line := range strings.Split(strings.TrimRight(q.Text, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			fmt.Fprintln(w)
			continue
		}
		wrap(w, "  ", line)
	}
	if q.Notes != "" {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range strings.Split(q.Notes, "\n") {
			wrap(w, "  ", n)
		}
	}
	return nil
}

// questionNote adds a note to a question; answer also marks it answered.
// It writes to the store: the note names the operating-system user.
func questionNote(ctx context.Context, e *env, verb string, args []string) error {
	fs := flags(e, "question "+verb, "ID --note TEXT [--config FILE] [--store FILE]")
	config, storePath := staffFlags(fs)
	note := fs.String("note", "", "what was answered, or done (recorded with your user name and the time)")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	id, err := questionID(fs, verb)
	if errors.Is(err, errUsage) || (verb == "note" && strings.TrimSpace(*note) == "") {
		fs.Usage()
		return errUsage
	}
	if err != nil {
		return err
	}
	cfg, err := staffConfig(*config, *storePath)
	if err != nil {
		return err
	}
	a, err := openAppMode(ctx, e, cfg, false)
	if err != nil {
		return fmt.Errorf("question %s: the note is written to the store, so it must be writable: %w", verb, err)
	}
	defer a.Close()
	err = a.store.NoteQuestion(ctx, id, osUser(), *note, verb == "answer", e.clock())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no question %d (`intake question list --all` shows them)", id)
	case errors.Is(err, store.ErrAnswered):
		return fmt.Errorf("question %d was answered already (add to it with `intake question note`)", id)
	case err != nil:
		return err
	}
	if verb == "answer" {
		fmt.Fprintf(e.stdout, "question %d: marked answered by %s\n", id, osUser())
	} else {
		fmt.Fprintf(e.stdout, "question %d: note added\n", id)
	}
	return nil
}
