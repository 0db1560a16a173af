package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Storing stops within a batch of records once its context ends, however
// many records are left: a stop is not held up by a large submission.
func TestInsertRecords_stopsWhenContextEnds(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const total, cancelAt = 1_000_000, 1000
	read := 0
	next := func() (*spooledRecord, error) {
		read++
		if read == cancelAt {
			cancel()
		}
		if read > total {
			return nil, fmt.Errorf("read past the end")
		}
		return &spooledRecord{kind: "k", file: "f.xlsx", sheet: "S", row: read, fields: []byte(`{"a":"b"}`)}, nil
	}
	now := time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC)
	msg, _, err := s.SaveRaw(context.Background(), RawMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 1, Raw: []byte("x"), ReceivedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	err = s.write(context.Background(), func(tx *sql.Tx) error {
		done, err := insertSubmission(context.Background(), tx, msg, &NewSubmission{Receipt: "R-1", Call: "c", Agency: "A"}, now)
		if err != nil {
			return err
		}
		return insertRecords(ctx, tx, done.SubmissionID, nil, next)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("insertRecords after cancel = %v, want context.Canceled", err)
	}
	if read > cancelAt+recordBatch {
		t.Errorf("%d records read after the context ended, want at most a batch (%d)", read-cancelAt, recordBatch)
	}
}
