package store

import (
	"fmt"
	"strings"
)

// where builds the WHERE clause of a list or search: conditions joined by
// AND, and their arguments in order.
type where struct {
	conds []string
	args  []any
}

// add adds a condition and its arguments.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (vals)": nil vals add nothing (any value), an empty list
// matches nothing.
func (w *where) in(col string, vals []string) {
	switch {
	case vals == nil:
	case len(vals) == 0:
		w.add("0")
	default:
		w.add(col+" IN ("+placeholders(len(vals))+")", anys(vals)...)
	}
}

// contains adds: text (trimmed; nothing when blank) is found, anywhere and
// in any case, in one of cols, or one of the alternatives more (conditions
// with their own arguments, after those of cols).
func (w *where) contains(text string, cols []string, more []string, moreArgs ...any) {
	t := strings.TrimSpace(text)
	if t == "" {
		return
	}
	p := likeEscape(t)
	var or []string
	var args []any
	for _, c := range cols {
		or = append(or, c+` LIKE ? ESCAPE '\'`)
		args = append(args, p)
	}
	w.add("("+strings.Join(append(or, more...), " OR ")+")", append(args, moreArgs...)...)
}

// state adds a submission state: current, superseded, deficient, or
// accepted (current or superseded); "" adds nothing; another is
// ErrBadFilter.
func (w *where) state(col, state string) error {
	switch state {
	case "":
	case "accepted":
		w.add(col+" IN (?, ?)", stateCurrent, stateSuperseded)
	case stateCurrent, stateSuperseded, stateDeficient:
		w.add(col+" = ?", state)
	default:
		return fmt.Errorf("%w %q (want one of %s)", ErrBadFilter, state, strings.Join(SubmissionStates, ", "))
	}
	return nil
}

// clause is " WHERE ..." ("" with no condition).
func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, " AND ")
}
