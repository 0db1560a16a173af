package parser

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The rules across rows run as the rows stream by: each row leaves what
// they need (crossRow), and callLevel settles them once every file was
// read. Nothing of a row stays but that: for each lookup rule the hash of
// the lookup kind's key with the values its condition reads (interned),
// and the rows of the rule's kind still to be looked up; the agency codes
// and reporting periods seen, each with the first row naming it.

// candChunk is the size of the chunks candidates are kept in: a large
// report never copies them to grow.
const candChunk = 1 << 16

// lookupState is one lookup rule's state during a check.
type lookupState struct {
	cr *compiledRule
	// Candidates of this submission: rows of the lookup kind, each the
	// hash of its folded key and the id of the values where reads.
	hashes [][]uint64
	tuples [][]uint32
	n      int
	ids    map[string]uint32 // where's values, joined -> id
	vals   [][]string        // by id: the values of cr.whereRef
	buf    []byte
	// pending rows of the rule's kind, looked up at the end.
	pending []pendingLookup
	need    map[uint64]*candidates // by the hash of a pending row's key
}

// pendingLookup is a row of the rule's kind whose value is looked up
// once the whole submission was read.
type pendingLookup struct {
	at   place
	key  uint64   // hash of the folded value
	vals []string // the row's values where reads (cr.whereRow)
}

// candidates are the tuple ids of the lookup kind's rows with one key:
// this submission's, else the stored ones (a position this submission
// reports supersedes the stored one).
type candidates struct{ sub, prior []uint32 }

// intern returns the id of the values of cr.whereRef in vals (a row of
// the lookup kind by column index, or nil with get for a stored record).
func (ls *lookupState) intern(get func(i int) string) uint32 {
	if ls.cr.where == nil {
		return 0
	}
	b := ls.buf[:0]
	for _, i := range ls.cr.whereRef {
		b = append(append(b, get(i)...), 0)
	}
	ls.buf = b
	if id, ok := ls.ids[string(b)]; ok {
		return id
	}
	if ls.ids == nil {
		ls.ids = map[string]uint32{}
	}
	vs := make([]string, len(ls.cr.whereRef))
	for j, i := range ls.cr.whereRef {
		vs[j] = strings.Clone(get(i))
	}
	id := uint32(len(ls.vals))
	ls.vals = append(ls.vals, vs)
	ls.ids[string(b)] = id
	return id
}

func (ls *lookupState) addCandidate(h uint64, id uint32) {
	if ls.n%candChunk == 0 {
		ls.hashes = append(ls.hashes, make([]uint64, 0, candChunk))
		ls.tuples = append(ls.tuples, make([]uint32, 0, candChunk))
	}
	c := len(ls.hashes) - 1
	ls.hashes[c] = append(ls.hashes[c], h)
	ls.tuples[c] = append(ls.tuples[c], id)
	ls.n++
}

func addID(ids []uint32, id uint32) []uint32 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

// crossRow notes what the rules across rows need of the current row of
// s: a lookup candidate, a row to look up, its agency code and period.
func (k *checker) crossRow(s *sheetState) {
	ck, vals := s.ck, s.row.Values
	for _, ls := range k.lookups {
		cr := ls.cr
		if cr.lookup == ck {
			if v := vals[cr.lookupCol.index]; v != "" {
				if h := k.hashNorm(v); len(k.norm) > 0 {
					ls.addCandidate(h, ls.intern(func(i int) string { return vals[i] }))
				}
			}
		}
		if cr.kind != ck || s.touches(cr.colIdx) {
			continue
		}
		h := k.hashNorm(vals[cr.col.index])
		if len(k.norm) == 0 {
			continue
		}
		if cr.when != nil {
			if ok, err := eval(cr.when, &s.act); err != nil || !ok {
				continue
			}
		}
		p := pendingLookup{at: s.place(s.row.Num, cr.col.index), key: h}
		if cr.where != nil && len(cr.whereRow) > 0 {
			p.vals = make([]string, len(cr.whereRow))
			for j, i := range cr.whereRow {
				p.vals[j] = strings.Clone(vals[i])
			}
		}
		ls.pending = append(ls.pending, p)
	}
	if i := ck.agency; i >= 0 && vals[i] != "" && !s.invalid[i] {
		k.agency.see(vals[i], s.place(s.row.Num, i))
	}
	if i := ck.period; i >= 0 && vals[i] != "" && !s.invalid[i] {
		if t, err := time.Parse(time.DateOnly, vals[i]); err == nil {
			k.period.see(isoWeek(t), s.place(s.row.Num, -1))
		}
	}
}

// callLevel settles what needs the whole submission: the kinds found at
// all, cross-kind lookups, the agency and the reporting period. An error
// is c.Prior's.
func (k *checker) callLevel() error {
	if k.opened > 0 && k.matched == 0 {
		var want []string
		for _, ck := range k.c.kinds {
			want = append(want, fmt.Sprintf("%s: %s", ck.kind.Title, headerList(ck)))
		}
		k.add(Finding{Code: "no-data-sheet",
			Message: "No sheet of the workbook has the column headers of this data call.",
			Fix:     "Use the official template, or put these headers in one row above the data. " + strings.Join(want, ". ") + "."}, -1, -1)
	}
	if err := k.lookupAll(); err != nil {
		return err
	}
	k.settleAgency()
	k.settlePeriod()
	return nil
}

// lookupAll looks up every pending row: among this submission's rows of
// the lookup kind first, then among the agency's stored ones (c.Prior,
// called once per kind, and only for a kind some row must be looked up
// in), keeping of those only the ones a pending row names.
func (k *checker) lookupAll() error {
	byKind := map[*compiledKind][]*lookupState{}
	for _, ls := range k.lookups {
		if len(ls.pending) == 0 {
			continue // no row of the rule's kind: nothing to look up
		}
		ls.need = make(map[uint64]*candidates, len(ls.pending))
		for _, p := range ls.pending {
			ls.need[p.key] = &candidates{}
		}
		for c, hs := range ls.hashes {
			for j, h := range hs {
				if cs := ls.need[h]; cs != nil {
					cs.sub = addID(cs.sub, ls.tuples[c][j])
				}
			}
		}
		ls.hashes, ls.tuples = nil, nil
		for _, cs := range ls.need {
			if len(cs.sub) == 0 {
				byKind[ls.cr.lookup] = append(byKind[ls.cr.lookup], ls)
				break
			}
		}
	}
	if k.ctx.Prior != nil {
		for _, ck := range k.c.kinds {
			states := byKind[ck]
			if len(states) == 0 {
				continue
			}
			err := k.ctx.Prior(ck.kind.ID, func(r Record) error {
				for _, ls := range states {
					h := k.hashNorm(r.Fields[ls.cr.lookupCol.col.Key])
					if cs := ls.need[h]; cs != nil && len(k.norm) > 0 && len(cs.sub) == 0 {
						cs.prior = addID(cs.prior, ls.intern(func(i int) string { return r.Fields[ck.keys[i]] }))
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("parser: stored records of %q: %w", ck.kind.ID, err)
			}
		}
	}
	for _, ls := range k.lookups {
		k.resolve(ls)
	}
	return nil
}

// resolve reports the pending rows of a lookup rule that name no row of
// the lookup kind where the rule's condition holds.
func (k *checker) resolve(ls *lookupState) {
	cr := ls.cr
	var act activation
	var row, ref rowMap
	if cr.where != nil {
		row = rowMap{ck: cr.kind, vals: make([]string, len(cr.kind.cols))}
		ref = rowMap{ck: cr.lookup, vals: make([]string, len(cr.lookup.cols))}
		act.row, act.ref = &row, &ref
	}
	for _, p := range ls.pending {
		cs := ls.need[p.key]
		ids := cs.sub
		if len(ids) == 0 {
			ids = cs.prior
		}
		found := cr.where == nil && len(ids) > 0
		if cr.where != nil {
			for j, i := range cr.whereRow {
				row.vals[i] = p.vals[j]
			}
			for _, id := range ids {
				for j, i := range cr.whereRef {
					ref.vals[i] = ls.vals[id][j]
				}
				if ok, err := eval(cr.where, &act); err == nil && ok {
					found = true
					break
				}
			}
		}
		if found {
			continue
		}
		msg := cr.rule.Message
		if len(ids) > 0 {
			msg += fmt.Sprintf(" (The %s names it, but it does not meet the condition.)", strings.ToLower(cr.lookup.kind.Title))
		} else {
			msg += fmt.Sprintf(" (No such row in the %s.)", strings.ToLower(cr.lookup.kind.Title))
		}
		k.addAt(p.at, Finding{Code: cr.rule.ID, Severity: cr.severity, Message: msg, Fix: cr.rule.Fix, Cite: cr.rule.Cite})
	}
	ls.pending, ls.need = nil, nil
}

// settleAgency settles Submission.Agency from the rows' agency codes.
func (k *checker) settleAgency() {
	codes := append([]string(nil), k.agency.order...)
	sort.Strings(codes)
	k.sub.Agency = k.ctx.Agency
	if len(codes) == 1 && k.ctx.Agency == "" {
		k.sub.Agency = codes[0]
	}
	if len(codes) > 1 && k.ctx.Agency == "" {
		msg := "The rows name more than one agency"
		if !k.def.PII {
			msg += " (" + strings.Join(codes, ", ") + ")"
		}
		k.add(Finding{Code: "several-agencies", Message: msg + "; one submission answers for one agency.",
			Fix: "Send each agency's rows in a separate submission, or correct the agency codes."}, -1, -1)
	}
	if k.ctx.Agency == "" {
		return
	}
	for _, code := range codes {
		if strings.EqualFold(code, k.ctx.Agency) {
			continue
		}
		msg := "The agency code in this row differs from the sender's agency"
		if !k.def.PII {
			msg = fmt.Sprintf("The agency code %q differs from the sender's agency %q", code, k.ctx.Agency)
		}
		k.addAt(k.agency.at[code], Finding{Code: "agency-mismatch",
			Message: msg + "; an agency reports only its own positions and people (first such row shown).",
			Fix:     "Enter your own agency code in every row, or have the other agency send its own submission."})
	}
}

// settlePeriod settles Submission.Period from the kinds' period columns:
// the ISO week of the week-ending date.
func (k *checker) settlePeriod() {
	order := append([]string(nil), k.period.order...)
	sort.Strings(order)
	switch len(order) {
	case 0:
	case 1:
		k.sub.Period = order[0]
	default:
		k.sub.Period = order[len(order)-1]
		weeks := ""
		if !k.def.PII {
			weeks = " (" + strings.Join(order, ", ") + ")"
		}
		k.add(Finding{Code: "several-periods",
			Message: fmt.Sprintf("The rows cover %d different weeks%s; one submission reports one week.", len(order), weeks),
			Fix:     "Send one submission per week, or correct the week-ending dates."}, -1, -1)
	}
}
