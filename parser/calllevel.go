package parser

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// callLevel runs what needs the whole submission: the kinds found at all,
// cross-kind lookups, the agency and the reporting period.
func (k *checker) callLevel() {
	if k.opened > 0 && k.matched == 0 {
		var want []string
		for _, ck := range k.c.kinds {
			want = append(want, fmt.Sprintf("%s: %s", ck.kind.Title, headerList(ck)))
		}
		k.add(Finding{Code: "no-data-sheet",
			Message: "No sheet of the workbook has the column headers of this data call.",
			Fix:     "Use the official template, or put these headers in one row above the data. " + strings.Join(want, ". ") + "."}, -1, -1)
	}
	for _, cr := range k.c.rules {
		k.lookup(cr)
	}
	k.agency()
	k.period()
}

// recordIndex locates a record's file and sheet for ordering findings.
func (k *checker) place(r *Record) (int, int) {
	for fi, f := range k.sub.Files {
		if f.Name != r.File {
			continue
		}
		for si, s := range f.Sheets {
			if s.Name == r.Sheet {
				return fi, si
			}
		}
		return fi, -1
	}
	return -1, -1
}

// lookup checks that each row of the rule's kind names a row of the
// lookup kind (this submission's rows first, then the agency's stored
// ones for keys this submission does not carry) where the rule's where
// holds.
func (k *checker) lookup(cr *compiledRule) {
	lk := cr.lookup
	key := cr.lookupCol.col.Key
	// No row of the rule's kind (a position report without retention
	// requests): nothing to look up, so no index of the other kind's rows.
	if !slices.ContainsFunc(k.sub.Records, func(r Record) bool { return r.Kind == cr.kind.kind.ID }) {
		return
	}
	cands := map[string][]map[string]string{}
	for i := range k.sub.Records {
		r := &k.sub.Records[i]
		if r.Kind == lk.kind.ID {
			if v := normValue(r.Fields[key]); v != "" {
				cands[v] = append(cands[v], r.Fields)
			}
		}
	}
	fromSub := make(map[string]bool, len(cands))
	for v := range cands {
		fromSub[v] = true
	}
	if k.ctx.Prior != nil {
		_ = k.ctx.Prior(lk.kind.ID, func(r Record) error {
			if v := normValue(r.Fields[key]); v != "" && !fromSub[v] {
				cands[v] = append(cands[v], fillKeys(r.Fields, lk))
			}
			return nil
		})
	}
	for i := range k.sub.Records {
		r := &k.sub.Records[i]
		if r.Kind != cr.kind.kind.ID || touches(cr.cols, k.invalid[i]) {
			continue
		}
		v := normValue(r.Fields[cr.rule.Column])
		if v == "" {
			continue
		}
		act := &activation{row: r.Fields}
		if cr.when != nil {
			if ok, err := eval(cr.when, act); err != nil || !ok {
				continue
			}
		}
		found := false
		for _, ref := range cands[v] {
			if cr.where == nil {
				found = true
				break
			}
			act.ref = ref
			if ok, err := eval(cr.where, act); err == nil && ok {
				found = true
				break
			}
		}
		if found {
			continue
		}
		msg := cr.rule.Message
		if len(cands[v]) > 0 {
			msg += fmt.Sprintf(" (The %s names it, but it does not meet the condition.)", strings.ToLower(lk.kind.Title))
		} else {
			msg += fmt.Sprintf(" (No such row in the %s.)", strings.ToLower(lk.kind.Title))
		}
		fi, si := k.place(r)
		f := Finding{File: r.File, Sheet: r.Sheet, Row: r.Row, Code: cr.rule.ID, Severity: cr.severity,
			Message: msg, Fix: cr.rule.Fix, Cite: cr.rule.Cite}
		if cr.col != nil {
			f.Column = cr.col.col.Header
			f.Col = k.sheetColumn(r, cr.col)
		}
		k.add(f, fi, si)
	}
}

// fillKeys gives a stored record every column key of its kind, so rules
// over it never miss a key.
func fillKeys(fields map[string]string, ck *compiledKind) map[string]string {
	for _, cc := range ck.cols {
		if _, ok := fields[cc.col.Key]; !ok {
			out := make(map[string]string, len(ck.cols))
			for _, c := range ck.cols {
				out[c.col.Key] = fields[c.col.Key]
			}
			return out
		}
	}
	return fields
}

// agency settles Submission.Agency from the rows' agency codes.
func (k *checker) agency() {
	seen := map[string]*Record{}
	var codes []string
	for i := range k.sub.Records {
		r := &k.sub.Records[i]
		ck := k.c.byKind[r.Kind]
		if ck == nil || ck.agency < 0 || touches([]string{ck.cols[ck.agency].col.Key}, k.invalid[i]) {
			continue
		}
		v := r.Fields[ck.cols[ck.agency].col.Key]
		if v == "" {
			continue
		}
		if seen[v] == nil {
			seen[v] = r
			codes = append(codes, v)
		}
	}
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
		r := seen[code]
		ck := k.c.byKind[r.Kind]
		msg := "The agency code in this row differs from the sender's agency"
		if !k.def.PII {
			msg = fmt.Sprintf("The agency code %q differs from the sender's agency %q", code, k.ctx.Agency)
		}
		fi, si := k.place(r)
		k.add(Finding{File: r.File, Sheet: r.Sheet, Row: r.Row, Col: k.sheetColumn(r, ck.cols[ck.agency]), Column: ck.cols[ck.agency].col.Header,
			Code: "agency-mismatch", Message: msg + "; an agency reports only its own positions and people (first such row shown).",
			Fix: "Enter your own agency code in every row, or have the other agency send its own submission."}, fi, si)
	}
}

// sheetColumn finds the sheet column of a column in the record's sheet,
// as noted while its header row was mapped.
func (k *checker) sheetColumn(r *Record, cc *compiledColumn) int {
	return k.colPos[sheetColKey{r.File, r.Sheet, cc.col.Key}]
}

type sheetColKey struct{ file, sheet, key string }

// period settles Submission.Period from the kinds' period columns: the
// ISO week of the week-ending date.
func (k *checker) period() {
	weeks := map[string]*Record{}
	var order []string
	for i := range k.sub.Records {
		r := &k.sub.Records[i]
		ck := k.c.byKind[r.Kind]
		if ck == nil || ck.kind.Period == "" || touches([]string{ck.kind.Period}, k.invalid[i]) {
			continue
		}
		t, err := time.Parse(time.DateOnly, r.Fields[ck.kind.Period])
		if err != nil {
			continue
		}
		w := isoWeek(t)
		if weeks[w] == nil {
			weeks[w] = r
			order = append(order, w)
		}
	}
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
