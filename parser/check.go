package parser

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"intake/parser/sheet"
)

// headerSearchRows is how many non-empty rows at the top of a sheet are
// searched for the header row (titles and notes often come first).
const headerSearchRows = 10

// MaxFallbackCells bounds the grid excelize would build when the stream
// reader hands it a workbook (a construct it does not understand):
// excelize pads every row to the farthest cell the row names, so a few
// kilobytes naming column XFD on 300 rows would take a gigabyte. It lets
// through a sheet of the most rows read (200,000) by 12 columns.
const MaxFallbackCells = 2_500_000

// maxFindings bounds the findings of one submission: a sheet that is
// wrong everywhere gives this many, then one "too-many-findings".
const maxFindings = 10_000

// Check reads and validates the attachments of one email against a data
// call, and returns every Record with the Submission: the wrapper over
// CheckStream for tests and small callers, which holds every record. It
// always returns a Submission: every problem in the files, down to the
// cell, is a Finding (all of them, not only the first, up to 10,000),
// sorted by file, sheet (in workbook order), row and column. For a call
// with PII no Message or Fix holds a cell value. Check never touches the
// network or the clock (c.Now is passed in). An error from c.Prior ends
// the check early: Check returns what it had by then.
func Check(def *Definition, files []Input, c Context) Submission {
	recs := []Record{}
	sub, _ := check(context.Background(), def, files, c, func(r *Row) error {
		recs = append(recs, r.Record())
		return nil
	})
	sub.Records = recs
	return sub
}

// check is CheckStream: it holds no row beyond the one being read, only
// what the rules across rows need (see checker).
func check(ctx context.Context, def *Definition, files []Input, c Context, sink RowSink) (Submission, error) {
	k := &checker{def: def, ctx: c, cx: ctx, lim: fillLimits(c.Limits), sink: sink, seed: maphash.MakeSeed()}
	k.sub.Files = []FileResult{}
	k.sub.Records = []Record{}
	k.sub.Findings = []Finding{}
	k.sub.RecordCounts = map[string]int{}
	if err := ctx.Err(); err != nil {
		return Submission{}, err
	}
	if def == nil || def.c == nil {
		k.add(Finding{Code: "no-call", Severity: SeverityError, Message: "The data call this mail answers is not known.",
			Fix: "Send the workbook to the data call's mailbox with the call's name in the subject."}, -1, -1)
		return k.finish(), nil
	}
	k.sub.Call = def.ID
	k.c = def.c
	k.lookups = make([]*lookupState, len(k.c.rules))
	for i, cr := range k.c.rules {
		k.lookups[i] = &lookupState{cr: cr}
	}
	for i, in := range files {
		k.file(i, in)
		if k.err != nil {
			return Submission{}, k.err
		}
	}
	if err := k.callLevel(); err != nil {
		return Submission{}, err
	}
	return k.finish(), nil
}

// checker is the state of one check. Beside the findings it holds only
// what rules across rows need: per sheet (sheetState) the unique and
// composite keys seen, as hashes; per lookup rule the lookup kind's keys
// and the values its condition reads, and the rows still to be looked
// up; the agency codes and periods seen, with the first row of each.
type checker struct {
	def     *Definition
	c       *compiled
	ctx     Context
	cx      context.Context
	lim     Limits
	sink    RowSink
	err     error // from cx or the sink: the check ends with it
	seed    maphash.Seed
	sub     Submission
	order   []findingOrder
	dropped int
	matched int   // sheets matched to a kind
	opened  int   // files opened as workbooks
	cells   int64 // non-empty cells read, all files and sheets
	full    bool  // Limits.MaxCells reached: nothing more is read
	lookups []*lookupState
	agency  firstSeen // agency codes the rows name
	period  firstSeen // reporting periods (ISO weeks) the rows name
	norm    []byte    // scratch for folding a value before hashing it
}

// place is where a finding about a row points.
type place struct {
	file, sheet string
	fi, si      int
	row, col    int
	column      string // the column's official header
}

// firstSeen is a set of values, each with the place it was first seen,
// in the order first seen.
type firstSeen struct {
	at    map[string]place
	order []string
}

func (f *firstSeen) see(v string, p place) {
	if _, ok := f.at[v]; ok {
		return
	}
	if f.at == nil {
		f.at = map[string]place{}
	}
	v = strings.Clone(v) // not the row's backing string
	f.at[v] = p
	f.order = append(f.order, v)
}

// stop ends the check with err (the context's or the sink's).
func (k *checker) stop(err error) { k.err = err }

// hash returns the hash of a value folded as normValue folds it.
func (k *checker) hashNorm(v string) uint64 {
	b, ok := appendNormASCII(k.norm[:0], v)
	if !ok {
		b = append(k.norm[:0], normHeader(v)...)
	}
	k.norm = b
	return maphash.Bytes(k.seed, b)
}

type findingOrder struct{ file, sheet int }

func fillLimits(l Limits) Limits {
	d := DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = d.MaxUnzippedBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = d.MaxRows
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = d.MaxColumns
	}
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = d.MaxCellBytes
	}
	if l.MaxSheets <= 0 {
		l.MaxSheets = d.MaxSheets
	}
	if l.MaxCells <= 0 {
		l.MaxCells = d.MaxCells
	}
	return l
}

func (k *checker) add(f Finding, file, sheetIdx int) {
	if f.Severity == "" {
		f.Severity = SeverityError
	}
	if len(k.sub.Findings) >= maxFindings {
		k.dropped++
		return
	}
	k.sub.Findings = append(k.sub.Findings, f)
	k.order = append(k.order, findingOrder{file, sheetIdx})
}

// addAt adds a finding about a row.
func (k *checker) addAt(p place, f Finding) {
	f.File, f.Sheet, f.Row = p.file, p.sheet, p.row
	if f.Col == 0 && f.Column == "" {
		f.Col, f.Column = p.col, p.column
	}
	k.add(f, p.fi, p.si)
}

func (k *checker) finish() Submission {
	if k.dropped > 0 {
		k.sub.Findings = append(k.sub.Findings, Finding{Code: "too-many-findings", Severity: SeverityError,
			Message: fmt.Sprintf("%d more problems are not listed.", k.dropped),
			Fix:     "Correct the problems listed, check the rest of the workbook the same way, and send it again."})
		k.order = append(k.order, findingOrder{1 << 30, 0})
	}
	idx := make([]int, len(k.sub.Findings))
	for i := range idx {
		idx[i] = i
	}
	fs, ord := k.sub.Findings, k.order
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := idx[a], idx[b]
		if ord[x].file != ord[y].file {
			return ord[x].file < ord[y].file
		}
		if ord[x].sheet != ord[y].sheet {
			return ord[x].sheet < ord[y].sheet
		}
		if fs[x].Row != fs[y].Row {
			return fs[x].Row < fs[y].Row
		}
		return fs[x].Col < fs[y].Col
	})
	sorted := make([]Finding, len(fs))
	for i, j := range idx {
		sorted[i] = fs[j]
	}
	k.sub.Findings = sorted
	return k.sub
}

// file examines one attachment.
func (k *checker) file(fi int, in Input) {
	ra, size := in.open()
	// Every read checks the context, so a cancelled check stops within
	// one read of the file, even in a long run of empty rows.
	ra = ctxReaderAt{k.cx, ra}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		if cerr := k.cx.Err(); cerr != nil {
			err = cerr
		}
		k.stop(fmt.Errorf("parser: read %q: %w", in.Name, err))
		return
	}
	k.sub.Files = append(k.sub.Files, FileResult{Name: in.Name, SHA256: hex.EncodeToString(h.Sum(nil)), Size: size})
	fr := &k.sub.Files[len(k.sub.Files)-1]
	bad := func(code, msg, fix string) {
		k.add(Finding{File: in.Name, Code: code, Message: msg, Fix: fix}, fi, -1)
	}
	switch {
	case size == 0:
		bad("empty-file", "The attachment is empty.", "Attach the completed workbook (.xlsx) again.")
		return
	case size > k.lim.MaxFileBytes:
		bad("too-large", fmt.Sprintf("The attachment is %s; at most %s is accepted.", byteSize(size), byteSize(k.lim.MaxFileBytes)),
			"Remove unused sheets, images and formatting, or split the data over several emails.")
		return
	case k.full:
		bad("not-read", "The attachment was not read: the files before it already hold as many cells as this mailbox reads.",
			"Send only the data call's sheets and columns, or split the data over several emails.")
		return
	}
	if err := sheet.SniffReaderAt(ra, size); err != nil {
		k.openError(fi, in.Name, err)
		return
	}
	if isMacroWorkbook(in.Name, ra, size) {
		bad("macro-workbook", "The workbook contains macros (.xlsm); macro-enabled files are not accepted.",
			"Save it as \"Excel Workbook (.xlsx)\" without macros and send that file.")
		return
	}
	wb, err := sheet.OpenReaderAt(ra, size, sheet.Limits{
		MaxPartBytes:  k.lim.MaxUnzippedBytes,
		MaxTotalBytes: k.lim.MaxUnzippedBytes,
		MaxRows:       k.lim.MaxRows + 1000, // header and notes rows; data rows are bounded by the checker
		MaxColumns:    k.lim.MaxColumns,
		MaxCellBytes:  k.lim.MaxCellBytes * 4,
		MaxStrings:    sheet.DefaultLimits().MaxStrings,
		MaxSheets:     k.lim.MaxSheets,
		MaxModelCells: MaxFallbackCells,
	})
	if err != nil {
		if cerr := k.cx.Err(); cerr != nil {
			k.stop(cerr)
			return
		}
		k.openError(fi, in.Name, err)
		return
	}
	defer wb.Close()
	k.opened++
	for si, name := range wb.Sheets() {
		if k.err != nil {
			return
		}
		if k.full {
			fr.Sheets = append(fr.Sheets, SheetResult{Name: name})
			continue
		}
		k.sheet(fi, si, in.Name, wb, name, fr)
	}
	// Asked after the sheets were read: a sheet the streaming reader
	// handed to excelize halfway through counts as read by excelize.
	fr.Reader = wb.Reader()
}

// ctxReaderAt fails every read once the context ends.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// limitDetail says which limit a sheet.ErrTooLarge names, as " (detail)",
// so the sender learns what to cut.
func limitDetail(err error) string {
	msg, base := err.Error(), sheet.ErrTooLarge.Error()
	i := strings.Index(msg, base)
	if i < 0 {
		return ""
	}
	d := strings.TrimPrefix(msg[i+len(base):], ": ")
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

func (k *checker) openError(fi int, name string, err error) {
	f := Finding{File: name}
	switch {
	case errors.Is(err, sheet.ErrLegacyXLS):
		f.Code, f.Message, f.Fix = "legacy-xls", "The file is an old Excel 97-2003 workbook (.xls), which is not accepted.", "Open it in Excel and save it as \"Excel Workbook (.xlsx)\", then send that file."
	case errors.Is(err, sheet.ErrEncrypted):
		// Reached only when no password was tried (DecryptInputs opens
		// encrypted workbooks first). Never ask for the data in the clear.
		f.Code, f.Message, f.Fix = "encrypted", "The workbook is encrypted with a password, and no password for it has reached this mailbox.", "Keep the workbook encrypted. Send its password in a separate email to this address, with the receipt number in the subject, or ask OPM to record your agency's password."
	case errors.Is(err, sheet.ErrTooLarge):
		f.Code, f.Message, f.Fix = "too-large", "The workbook is larger than this mailbox reads once unpacked"+limitDetail(err)+".", "Remove unused sheets, rows and formatting, or split the data over several emails."
	case errors.Is(err, sheet.ErrNotXLSX):
		if ext := strings.ToLower(path.Ext(name)); ext == ".xlsx" || ext == ".xlsm" {
			f.Code, f.Message, f.Fix = "corrupted", "The file is named like a workbook but cannot be opened as one; it may be damaged.", "Open it in Excel, save it as \"Excel Workbook (.xlsx)\", and send it again."
		} else {
			f.Code, f.Message, f.Fix = "not-xlsx", "The file is not an Excel workbook (.xlsx).", "Send the data in the official template, saved as \"Excel Workbook (.xlsx)\"."
		}
	case errors.Is(err, sheet.ErrDoctype):
		f.Code, f.Message, f.Fix = "corrupted", "The workbook contains content that is not allowed (an XML DOCTYPE).", "Copy the data into the official template, save it as \"Excel Workbook (.xlsx)\", and send it again."
	default:
		f.Code, f.Message, f.Fix = "corrupted", "The workbook is damaged and cannot be read.", "Open it in Excel, save it as \"Excel Workbook (.xlsx)\", and send it again."
	}
	k.add(f, fi, -1)
}

// isMacroWorkbook: a VBA project part or a macro-enabled content type.
func isMacroWorkbook(name string, ra io.ReaderAt, size int64) bool {
	if strings.EqualFold(path.Ext(name), ".xlsm") {
		return true
	}
	z, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // backslash names, as some producers write
		return false
	}
	for _, f := range z.File {
		n := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		if strings.HasSuffix(n, "vbaproject.bin") {
			return true
		}
		if n == "[content_types].xml" && f.UncompressedSize64 < 1<<20 {
			rc, err := f.Open()
			if err != nil {
				return false
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(ioLimit(rc, 1<<20))
			rc.Close()
			if bytes.Contains(buf.Bytes(), []byte("macroEnabled")) {
				return true
			}
		}
	}
	return false
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
