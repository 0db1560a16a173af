package parser

import (
	"context"
)

// Row is one data row of a kind as it is read, in typed form: its values
// by column index, no map. A Row handed to a RowSink is valid only during
// the call (its Values are reused for the next row); Record copies it.
type Row struct {
	Kind  string // the kind's ID
	File  string // attachment file name
	Sheet string // sheet name
	Num   int    // 1-based sheet row
	// Keys are the kind's column keys in definition order; shared by
	// every row of the kind, never to be modified.
	Keys []string
	// Values are the normalised values (dates YYYY-MM-DD, Y/N, canonical
	// enum values), by Keys index.
	Values []string
}

// Field returns the value of the column key, or "".
func (r *Row) Field(key string) string {
	for i, k := range r.Keys {
		if k == key {
			return r.Values[i]
		}
	}
	return ""
}

// Record copies the row into a Record, with a Fields map.
func (r *Row) Record() Record {
	f := make(map[string]string, len(r.Keys))
	for i, k := range r.Keys {
		f[k] = r.Values[i]
	}
	return Record{Kind: r.Kind, File: r.File, Sheet: r.Sheet, Row: r.Num, Fields: f}
}

// RowSink receives the rows of a submission as they are read. An error
// stops the check and is returned by CheckStream.
type RowSink func(*Row) error

// PriorFunc hands fn the agency's current stored records of one kind of
// the call (for cross-kind rules such as a retention request naming a
// position reported earlier). It is called only for kinds a rule needs.
type PriorFunc func(kind string, fn func(Record) error) error

// CheckStream is Check for submissions of any size: every row goes to sink
// as it is read and none is kept (Submission.Records stays empty;
// RecordCounts counts them). It returns an error only when ctx ends
// (ctx.Err()) or the sink fails; every problem of the sender's is a
// Finding.
func CheckStream(ctx context.Context, def *Definition, files []Input, c Context, sink RowSink) (Submission, error) {
	if err := ctx.Err(); err != nil {
		return Submission{}, err
	}
	sub := Check(def, files, c)
	keys := map[string][]string{}
	if def != nil {
		for _, k := range def.Kinds {
			for _, col := range k.Columns {
				keys[k.ID] = append(keys[k.ID], col.Key)
			}
		}
	}
	for _, r := range sub.Records {
		if err := ctx.Err(); err != nil {
			return Submission{}, err
		}
		row := &Row{Kind: r.Kind, File: r.File, Sheet: r.Sheet, Num: r.Row, Keys: keys[r.Kind]}
		for _, k := range row.Keys {
			row.Values = append(row.Values, r.Fields[k])
		}
		if sink != nil {
			if err := sink(row); err != nil {
				return Submission{}, err
			}
		}
	}
	sub.Records = []Record{}
	return sub, nil
}

// Differ compares a new version of an agency's records with the previous
// one as both stream by: Old for each stored record of the kinds the new
// version sends, New for each row of the new version, then Changes.
type Differ struct {
	def      *Definition
	old, new []Record
}

// NewDiffer starts a comparison for def.
func NewDiffer(def *Definition) *Differ { return &Differ{def: def} }

// Old adds a record of the previous version.
func (d *Differ) Old(r Record) { d.old = append(d.old, r) }

// New adds a row of the new version.
func (d *Differ) New(r *Row) { d.new = append(d.new, r.Record()) }

// Changes is what the new version changed: the same as Diff over all the
// records added.
func (d *Differ) Changes() Changes { return Diff(d.def, d.old, d.new) }

// PriorRecords is a PriorFunc over records already in memory, by kind.
func PriorRecords(byKind map[string][]Record) PriorFunc {
	return func(kind string, fn func(Record) error) error {
		for _, r := range byKind[kind] {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
}
