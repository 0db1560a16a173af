package parser

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"unicode/utf8"

	"intake/parser/sheet"
)

// sheetState is the validation of one sheet read as one kind. Of the
// rows before the current one it keeps only hashes: of each unique
// column's values and of the composite keys, with the first row of each.
type sheetState struct {
	k         *checker
	ck        *compiledKind
	fi, si    int
	file      string
	name      string
	cx        cellContext
	headerRow int
	colOf     []int // sheet column (1-based) -> column index, -1 unmapped
	present   []bool
	sheetCol  []int              // column index -> sheet column, 0 when absent
	unique    []map[uint64]int32 // by column index: hash of the value -> first row
	keys      map[uint64]int32   // hash of the kind's composite Key -> first row
	cells     []*sheet.Cell      // by column index, reused per row
	invalid   []bool             // by column index: the current row's cell is invalid
	bad       bool               // some cell of the current row is invalid
	row       Row                // the current row, handed to the sink
	rm        rowMap             // the current row as CEL sees it
	act       activation         // reused for every row's rules
	memo      []map[string]bool  // per row rule: outcome by the values of the columns it reads
	memoKey   []byte
	hashBuf   []byte
	rows      int
}

// memoLimit bounds the outcomes remembered per rule: a rule over
// free-text columns stops being remembered rather than growing the cache.
const memoLimit = 4096

// ctxEvery is how many rows go by between looks at the context.
const ctxEvery = 4096

// ruleFails runs row rule i (when, then assert) on the current row. Rules
// read a few enumerated columns, so a sheet of 100,000 rows has a handful
// of distinct inputs: their outcomes are remembered.
func (s *sheetState) ruleFails(i int, cr *compiledRule) bool {
	var m map[string]bool
	if cr.memo {
		if s.memo == nil {
			s.memo = make([]map[string]bool, len(s.ck.rules))
		}
		if m = s.memo[i]; m == nil {
			m = map[string]bool{}
			s.memo[i] = m
		}
		b := s.memoKey[:0]
		for _, c := range cr.colIdx {
			b = append(append(b, s.row.Values[c]...), 0)
		}
		s.memoKey = b
		if fails, ok := m[string(b)]; ok {
			return fails
		}
		if len(m) >= memoLimit {
			m = nil
		}
	}
	applies := cr.when == nil
	if !applies {
		ok, err := eval(cr.when, &s.act)
		applies = err == nil && ok
	}
	fails := false
	if applies {
		ok, err := eval(cr.assert, &s.act)
		fails = err == nil && !ok
	}
	if m != nil {
		m[string(s.memoKey)] = fails
	}
	return fails
}

// sheet reads one worksheet: find its kind and header row, then stream its
// data rows into validation.
func (k *checker) sheet(fi, si int, file string, wb sheet.Workbook, name string, fr *FileResult) {
	res := SheetResult{Name: name}
	defer func() { fr.Sheets = append(fr.Sheets, res) }()
	rows, err := wb.Rows(name)
	if err != nil {
		k.readError(fi, si, file, name, err)
		return
	}
	defer rows.Close()
	var head []sheet.Row
	for len(head) < headerSearchRows && rows.Next() {
		r := rows.Row()
		if !k.count(fi, si, file, name, r) {
			return
		}
		head = append(head, r)
	}
	if err := rows.Err(); err != nil {
		k.readError(fi, si, file, name, err)
		return
	}
	ck, hi, nameMatch := k.c.detect(name, head)
	if ck == nil {
		if nameMatch != nil {
			k.add(Finding{File: file, Sheet: name, Code: "no-header",
				Message: fmt.Sprintf("The sheet is named like the %s sheet but no header row was found in its first %d rows.", nameMatch.kind.Title, headerSearchRows),
				Fix:     "Put the official column headers in one row above the data: " + headerList(nameMatch) + "."}, fi, si)
		}
		return
	}
	res.Kind = ck.kind.ID
	k.matched++
	s := &sheetState{k: k, ck: ck, fi: fi, si: si, file: file, name: name, cx: cellContext{date1904: wb.Date1904()}, headerRow: head[hi].Num}
	s.mapHeader(head[hi])
	defer func() { res.Rows = min(s.rows, k.lim.MaxRows) }()
	for _, r := range head[hi+1:] {
		if !s.rowDone(r) {
			return
		}
	}
	head = nil
	for n := 1; rows.Next(); n++ {
		r := rows.Row()
		if n%ctxEvery == 0 {
			if err := k.cx.Err(); err != nil {
				k.stop(err)
				return
			}
		}
		if !k.count(fi, si, file, name, r) || !s.rowDone(r) {
			return
		}
	}
	if err := rows.Err(); err != nil {
		k.readError(fi, si, file, name, err)
		return
	}
	minRows := max(ck.kind.MinRows, 1)
	if ck.kind.Optional && ck.kind.MinRows == 0 {
		minRows = 0
	}
	if s.rows < minRows {
		k.add(Finding{File: file, Sheet: name, Code: "no-rows",
			Message: fmt.Sprintf("The %s sheet has %d data rows; at least %d are needed.", ck.kind.Title, s.rows, minRows),
			Fix:     fmt.Sprintf("Enter the data in the rows below the header row (row %d).", s.headerRow)}, fi, si)
	}
}

// count adds a row's cells to the submission's count; it returns false,
// with the finding, when the row goes past Limits.MaxCells: nothing more
// of the submission is read.
func (k *checker) count(fi, si int, file, name string, r sheet.Row) bool {
	k.cells += int64(len(r.Cells))
	if k.cells <= k.lim.MaxCells {
		return true
	}
	k.full = true
	k.add(Finding{File: file, Sheet: name, Row: r.Num, Code: "too-many-cells",
		Message: fmt.Sprintf("The submission has more than %s filled cells across its sheets and files, the most this mailbox reads; the rest (from this row on) was not read.", groupDigits(k.lim.MaxCells)),
		Fix:     "Send only the data call's sheets and columns, without copies, extra columns or other data, or split the rows over several emails."}, fi, si)
	return false
}

// groupDigits writes n with thousands separators: 20,000,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// readError turns a sheet that could not be read to the end into a
// finding; when the context ended, the check ends instead.
func (k *checker) readError(fi, si int, file, name string, err error) {
	if cerr := k.cx.Err(); cerr != nil {
		k.stop(cerr)
		return
	}
	f := Finding{File: file, Sheet: name, Code: "unreadable-sheet", Message: "The sheet could not be read to the end; it may be damaged.",
		Fix: "Copy the data into the official template, save it as \"Excel Workbook (.xlsx)\", and send it again."}
	switch {
	case errors.Is(err, sheet.ErrDoctype):
		f.Code, f.Message = "corrupted", "The sheet contains content that is not allowed (an XML DOCTYPE)."
	case errors.Is(err, sheet.ErrTooLarge):
		f.Code, f.Message, f.Fix = "too-large", "The sheet is larger than this mailbox reads"+limitDetail(err)+".", "Remove unused rows and columns, or split the data over several emails."
	}
	k.add(f, fi, si)
}

// detect finds the kind of a sheet and its header row among the first
// rows: the row that names most columns of a kind, if it names enough of
// them (two, and at least half the required ones; one if the sheet's name
// is one of the kind's sheet names). nameMatch is the kind the sheet name
// suggests, for the finding when no header row is found.
func (c *compiled) detect(sheetName string, head []sheet.Row) (best *compiledKind, row int, nameMatch *compiledKind) {
	sn := normHeader(sheetName)
	bestScore := 0
	for _, ck := range c.kinds {
		named := false
		for _, s := range ck.sheets {
			named = named || s == sn
		}
		if named && nameMatch == nil {
			nameMatch = ck
		}
		required := 0
		for _, cc := range ck.cols {
			if cc.required {
				required++
			}
		}
		need := max(2, (required+1)/2)
		if named {
			need = 1
		}
		for i, r := range head {
			n := headerScore(ck, r)
			score := 2 * n
			if named {
				score++ // a tie goes to the kind the sheet is named for
			}
			if n >= need && score > bestScore {
				best, row, bestScore = ck, i, score
			}
		}
	}
	return best, row, nameMatch
}

// headerScore counts the distinct columns of ck a row names.
func headerScore(ck *compiledKind, r sheet.Row) int {
	seen := make([]bool, len(ck.cols))
	n := 0
	for _, c := range r.Cells {
		if c.Type != sheet.String || len(c.Value) > 300 {
			continue
		}
		if i, ok := ck.headers[normHeader(c.Value)]; ok && !seen[i] {
			seen[i] = true
			n++
		}
	}
	return n
}

func headerList(ck *compiledKind) string {
	hs := make([]string, len(ck.cols))
	for i, cc := range ck.cols {
		hs[i] = strconv.Quote(cc.col.Header)
	}
	return strings.Join(hs, ", ")
}

func (s *sheetState) mapHeader(r sheet.Row) {
	ck := s.ck
	s.present = make([]bool, len(ck.cols))
	s.sheetCol = make([]int, len(ck.cols))
	s.cells = make([]*sheet.Cell, len(ck.cols))
	s.invalid = make([]bool, len(ck.cols))
	s.unique = make([]map[uint64]int32, len(ck.cols))
	s.row = Row{Kind: ck.kind.ID, File: s.file, Sheet: s.name, Keys: ck.keys, Values: make([]string, len(ck.cols))}
	s.rm = rowMap{ck: ck, vals: s.row.Values}
	s.act.row = &s.rm
	maxCol := 0
	for _, c := range r.Cells {
		maxCol = max(maxCol, c.Col)
	}
	s.colOf = make([]int, maxCol+1)
	for i := range s.colOf {
		s.colOf[i] = -1
	}
	for _, c := range r.Cells {
		if c.Type != sheet.String {
			continue
		}
		i, ok := ck.headers[normHeader(c.Value)]
		if !ok {
			continue
		}
		if s.present[i] {
			s.k.add(Finding{File: s.file, Sheet: s.name, Row: r.Num, Col: c.Col, Column: ck.cols[i].col.Header, Code: "duplicate-column", Severity: SeverityWarning,
				Message: fmt.Sprintf("The column %q appears twice; only the first (column %s) is read.", ck.cols[i].col.Header, ColumnName(s.sheetCol[i])),
				Fix:     "Delete or rename the second column."}, s.fi, s.si)
			continue
		}
		s.present[i] = true
		s.sheetCol[i] = c.Col
		s.colOf[c.Col] = i
	}
	for i, cc := range ck.cols {
		if cc.col.Unique {
			s.unique[i] = map[uint64]int32{}
		}
		if !s.present[i] && cc.required {
			s.k.add(Finding{File: s.file, Sheet: s.name, Row: r.Num, Column: cc.col.Header, Code: "missing-column",
				Message: fmt.Sprintf("The required column %q is missing.", cc.col.Header),
				Fix:     fmt.Sprintf("Add a column headed %q to the header row (row %d) and fill it in.", cc.col.Header, r.Num)}, s.fi, s.si)
		}
	}
}

// place is where a finding about the current row's column i points
// (i < 0: the whole row).
func (s *sheetState) place(num, i int) place {
	p := place{file: s.file, sheet: s.name, fi: s.fi, si: s.si, row: num}
	if i >= 0 {
		p.col, p.column = s.sheetCol[i], s.ck.cols[i].col.Header
	}
	return p
}

// rowDone validates one sheet row and hands it to the sink; it returns
// false when reading stops: the sheet holds more data rows than the
// limits allow, or the check ended (the sink failed).
func (s *sheetState) rowDone(r sheet.Row) bool {
	k, ck := s.k, s.ck
	clear(s.cells)
	data := false
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Col >= len(s.colOf) {
			break
		}
		ci := s.colOf[c.Col]
		if ci < 0 {
			continue
		}
		s.cells[ci] = c
		if !data && (c.Type != sheet.String || trimCell(c.Value) != "") {
			data = true
		}
	}
	if !data {
		return true
	}
	s.rows++
	if s.rows > k.lim.MaxRows {
		k.add(Finding{File: s.file, Sheet: s.name, Row: r.Num, Code: "too-many-rows",
			Message: fmt.Sprintf("The sheet has more than %s data rows, the most this mailbox reads in one sheet; the rest was not read.", groupDigits(int64(k.lim.MaxRows))),
			Fix:     "Split the data over several workbooks."}, s.fi, s.si)
		return false
	}
	pii := k.def.PII
	s.row.Num = r.Num
	s.bad = false
	clear(s.invalid)
	vals := s.row.Values
	for i, cc := range ck.cols {
		v, p := coerce(cc, s.cells[i], &s.cx)
		vals[i] = v
		if p == nil && v == "" && cc.required && s.present[i] {
			p = &problem{"required", "The cell is empty; a value is required.", "Enter " + cc.col.Enter() + "."}
		}
		if p == nil && v != "" && cc.col.Reference != "" {
			p = k.reference(cc.col, v)
		}
		if p == nil && v != "" && s.unique[i] != nil {
			h := s.hashUpper(v)
			if first, dup := s.unique[i][h]; dup {
				p = &problem{"duplicate", fmt.Sprintf("The value repeats that of row %d; each row needs its own.", first), "Remove the duplicate row or correct the value."}
			} else {
				s.unique[i][h] = int32(r.Num)
			}
		}
		if p != nil {
			s.invalid[i], s.bad = true, true
			msg := p.msg
			if !pii && s.cells[i] != nil && p.code != "required" {
				msg = fmt.Sprintf("%q: %s", limitText(trimCell(s.cells[i].Value), 60), msg)
			}
			k.addAt(s.place(r.Num, i), Finding{Code: p.code, Message: msg, Fix: p.fix, Cite: cc.col.Cite})
		}
	}
	s.duplicateKey(r.Num)
	for i, cr := range ck.rules {
		if s.touches(cr.colIdx) {
			continue
		}
		if s.ruleFails(i, cr) {
			s.ruleFinding(cr, r.Num)
		}
	}
	k.crossRow(s)
	k.sub.RecordCounts[ck.kind.ID]++
	if k.sink != nil {
		if err := k.sink(&s.row); err != nil {
			k.stop(err)
			return false
		}
	}
	return true
}

// touches reports whether one of the columns (by index) is invalid in
// the current row: rules that read it are not run.
func (s *sheetState) touches(cols []int) bool {
	if !s.bad {
		return false
	}
	for _, c := range cols {
		if s.invalid[c] {
			return true
		}
	}
	return false
}

// hashUpper hashes a value upper-cased (unique values and keys compare
// ignoring case).
func (s *sheetState) hashUpper(v string) uint64 {
	s.hashBuf = appendUpper(s.hashBuf[:0], v)
	return maphash.Bytes(s.k.seed, s.hashBuf)
}

func appendUpper(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return append(b, strings.ToUpper(v)...)
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// duplicateKey reports a row whose Key columns (all filled and valid)
// repeat those of an earlier row of the sheet. A kind whose key is one
// unique column already has its "duplicate" finding.
func (s *sheetState) duplicateKey(row int) {
	key := s.ck.keyCols
	if len(key) < 2 || s.touches(key) {
		return
	}
	b := s.hashBuf[:0]
	for _, c := range key {
		v := s.row.Values[c]
		if v == "" {
			return
		}
		b = append(appendUpper(b, v), 0)
	}
	s.hashBuf = b
	h := maphash.Bytes(s.k.seed, b)
	if s.keys == nil {
		s.keys = map[uint64]int32{}
	}
	if first, dup := s.keys[h]; dup {
		var hs []string
		for _, c := range key {
			hs = append(hs, strconv.Quote(s.ck.cols[c].col.Header))
		}
		s.k.add(Finding{File: s.file, Sheet: s.name, Row: row, Code: "duplicate-row",
			Message: fmt.Sprintf("This row has the same %s as row %d.", strings.Join(hs, ", "), first),
			Fix:     "Remove the repeated row, or correct it."}, s.fi, s.si)
		return
	}
	s.keys[h] = int32(row)
}

func (s *sheetState) ruleFinding(cr *compiledRule, row int) {
	f := Finding{File: s.file, Sheet: s.name, Row: row, Code: cr.rule.ID, Severity: cr.severity,
		Message: cr.rule.Message, Fix: cr.rule.Fix, Cite: cr.rule.Cite}
	if cr.col != nil {
		f.Col = s.sheetCol[cr.col.index]
		f.Column = cr.col.col.Header
	}
	s.k.add(f, s.fi, s.si)
}

// reference checks a value against the reference data, when there is any.
func (k *checker) reference(col *Column, v string) *problem {
	ref := k.ctx.Ref
	if ref == nil {
		return nil
	}
	var table map[string]string
	what := ""
	switch col.Reference {
	case RefAgency:
		table, what = ref.Agencies, "OPM agency code"
	case RefSubAgency:
		table, what = ref.SubAgencies, "OPM sub-agency code"
	case RefPayPlan:
		table, what = ref.PayPlans, "pay plan"
	}
	if len(table) == 0 {
		return nil
	}
	if _, ok := table[strings.ToUpper(v)]; ok {
		return nil
	}
	return &problem{"unknown-" + col.Reference, "The value is not a known " + what + ".", "Enter a " + what + " from OPM's list (FedScope), e.g. " + exampleOr(col, "HS") + "."}
}

func exampleOr(col *Column, def string) string {
	if col.Example != "" {
		return col.Example
	}
	return def
}
