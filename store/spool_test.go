package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"intake/parser"
	"intake/store"
)

// rowsOf turns records into the rows a check hands its sink: the values by
// the kind's keys in definition order (not sorted), one Row reused.
func spoolRecords(t *testing.T, sp *store.Spool, recs []parser.Record) {
	t.Helper()
	keys := []string{"position_number", "agency"}
	for c := 11; c >= 2; c-- { // not in sorted order, as a definition lists them
		keys = append(keys, fmt.Sprintf("col%02d", c))
	}
	row := &parser.Row{Keys: keys}
	for _, r := range recs {
		row.Kind, row.File, row.Sheet, row.Num = r.Kind, r.File, r.Sheet, r.Row
		row.Values = row.Values[:0]
		for _, k := range keys {
			row.Values = append(row.Values, r.Fields[k])
		}
		if err := sp.Add(row); err != nil {
			t.Fatal(err)
		}
	}
}

// A spooled submission is stored exactly as the same records held in
// memory are, and the spool's file, made 0600 in the store's directory,
// is gone from the directory while it is written and after.
func TestSpool_storedAsRecords(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	dir := filepath.Dir(path)
	const n = 5000 // several batches and a partial one
	recs := records("position-report", n)
	recs[7].Fields["col03"] = "quote \" backslash \\ tab \t newline \n é \x01"

	inMemory := submission("R-MEM", true, 0)
	inMemory.Result.Records = recs
	inMemory.Agency, inMemory.Result.Agency = "DJ", "DJ"
	mustComplete(t, s, 1, inMemory, t0)

	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	spoolRecords(t, sp, recs)
	if sp.Len() != n {
		t.Fatalf("Len = %d, want %d", sp.Len(), n)
	}
	// No record is left on disk under a name, even while the spool is open.
	during, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != len(before) {
		t.Errorf("the store's directory holds %d entries while spooling, %d before: the spool is visible", len(during), len(before))
	}
	spooled := submission("R-SPOOL", true, 0)
	spooled.Result.RecordCounts = map[string]int{"position-report": n}
	spooled.Spool = sp
	_, done := mustComplete(t, s, 2, spooled, t0)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	subs, err := s.Submissions(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range subs {
		if x.Records != n {
			t.Errorf("%s: %d records counted, want %d", x.Receipt, x.Records, n)
		}
	}
	mem, err := s.Current(ctx, inMemory.Call, "DJ", "")
	if err != nil || mem == nil {
		t.Fatal(mem, err)
	}
	got, err := s.Current(ctx, spooled.Call, "HS", "")
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	if got.SubmissionID != done.SubmissionID || len(got.Records) != n {
		t.Fatalf("current = submission %d with %d records, want %d with %d", got.SubmissionID, len(got.Records), done.SubmissionID, n)
	}
	for i := range got.Records {
		a, b := mem.Records[i], got.Records[i]
		if a.Kind != b.Kind || a.File != b.File || a.Sheet != b.Sheet || a.Row != b.Row || !maps.Equal(a.Fields, b.Fields) {
			t.Fatalf("record %d: spooled %+v, in memory %+v", i, b, a)
		}
	}
	// Stored byte for byte alike.
	db := rawDB(t, path)
	var differ int
	if err := db.QueryRow(`SELECT count(*) FROM records a JOIN records b ON a.row = b.row
		WHERE a.submission <> b.submission AND a.fields <> b.fields`).Scan(&differ); err != nil {
		t.Fatal(err)
	}
	if differ != 0 {
		t.Errorf("%d records are stored differently from the spool than from memory", differ)
	}
}

// The spool is made with mode 0600 in the store's directory: where the
// platform keeps it under a name (it cannot be unlinked while open), only
// the daemon's user may read it; Close removes it.
func TestSpool_modeAndPlace(t *testing.T) {
	s, path := newStore(t)
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := store.SpoolFileInfo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("spool mode %v, want 0600", fi.Mode().Perm())
	}
	if dir := store.SpoolDir(sp); dir != filepath.Dir(path) {
		t.Errorf("spool made in %s, want the store's directory %s", dir, filepath.Dir(path))
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Add(&parser.Row{Kind: "k"}); err == nil {
		t.Error("Add after Close succeeded")
	}
}

// Rows reads the spool back as rows, in order, with every field.
func TestSpool_rows(t *testing.T) {
	s, _ := newStore(t)
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	recs := records("position-report", 1000)
	spoolRecords(t, sp, recs)
	for pass := 0; pass < 2; pass++ { // it may be read more than once (the diff, then Complete)
		i := 0
		if err := sp.Rows(context.Background(), func(r *parser.Row) error {
			want := recs[i]
			got := r.Record()
			if got.Kind != want.Kind || got.File != want.File || got.Sheet != want.Sheet || got.Row != want.Row || !maps.Equal(got.Fields, want.Fields) {
				t.Fatalf("pass %d row %d = %+v, want %+v", pass, i, got, want)
			}
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i != len(recs) {
			t.Fatalf("pass %d: %d rows read back, want %d", pass, i, len(recs))
		}
	}
	if err := sp.Add(&parser.Row{Kind: "late"}); err == nil {
		t.Error("Add after reading back succeeded: Complete would store a row the diff never saw")
	}
	stop := errors.New("stop")
	if err := sp.Rows(context.Background(), func(*parser.Row) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Rows with a failing fn = %v, want its error", err)
	}
}

// CurrentRecords streams only the kinds asked for; AgencyPrior streams
// one kind across periods.
func TestCurrentRecords_kinds(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sub := submission("R-1", true, 0)
	sub.Result.Records = append(records("position-report", 30), records("retention-request", 4)...)
	mustComplete(t, s, 1, sub, t0)
	weekly := submission("R-2", true, 0)
	weekly.Period = "2025-W10"
	weekly.Result.Records = records("retention-request", 2)
	mustComplete(t, s, 2, weekly, t0)

	if v, err := s.CurrentVersion(ctx, sub.Call, "HS", ""); err != nil || v != 1 {
		t.Errorf("CurrentVersion = %d, %v; want 1", v, err)
	}
	if v, err := s.CurrentVersion(ctx, sub.Call, "DJ", ""); err != nil || v != 0 {
		t.Errorf("CurrentVersion(no version) = %d, %v; want 0", v, err)
	}
	count := func(kinds ...string) map[string]int {
		n := map[string]int{}
		if err := s.CurrentRecords(ctx, sub.Call, "HS", "", kinds, func(r parser.Record) error { n[r.Kind]++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("retention-request"); !maps.Equal(n, map[string]int{"retention-request": 4}) {
		t.Errorf("CurrentRecords(retention-request) = %v", n)
	}
	if n := count("position-report", "retention-request"); !maps.Equal(n, map[string]int{"position-report": 30, "retention-request": 4}) {
		t.Errorf("CurrentRecords(both) = %v", n)
	}
	if n := count(); len(n) != 0 {
		t.Errorf("CurrentRecords(no kind) = %v", n)
	}
	var rows []int
	if err := s.AgencyPrior(ctx, sub.Call, "HS")("retention-request", func(r parser.Record) error {
		rows = append(rows, r.Row)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, []int{2, 3, 4, 5, 2, 3}) {
		t.Errorf("AgencyPrior(retention-request) rows %v, want both periods' in order", rows)
	}
	stop := errors.New("stop")
	if err := s.AgencyPrior(ctx, sub.Call, "HS")("position-report", func(parser.Record) error { return stop }); err != stop {
		t.Errorf("AgencyPrior with a failing fn = %v, want its error as is", err)
	}
}
