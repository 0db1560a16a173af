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
// RecordCounts counts them). Besides the findings it holds only what the
// rules across rows need (unique and composite keys as hashes, lookup
// keys and the values a lookup's condition reads, the agency codes and
// periods seen), so its memory stays flat however many rows come. It
// returns an error only when ctx ends (ctx.Err(), checked while reading,
// every few thousand rows and at every read of a file), the sink fails,
// or c.Prior fails; every problem of the sender's is a Finding.
func CheckStream(ctx context.Context, def *Definition, files []Input, c Context, sink RowSink) (Submission, error) {
	sub, err := check(ctx, def, files, c, sink)
	if err != nil {
		return Submission{}, err
	}
	return sub, nil
}

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
