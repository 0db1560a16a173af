package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The queries that stream a submission's records, or look a mail up on
// the hot path, read them off an index, neither sorting nor scanning:
// a plan that sorts in a temporary b-tree holds every record (hundreds of
// megabytes for a large version) before handing over the first.
func TestRecordStreamsDoNotSort(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []struct {
		name, query string
		args        []any
	}{
		{"one part's records", partRecords, []any{1, "k"}},
		{"CurrentRecords' parts", currentParts(2), []any{"c", "a", "p", "k", "j"}},
		{"AgencyPrior's parts", priorParts, []any{"c", "a", "k"}},
		{"EarlierCopy's candidates", earlierCopies, []any{"<m@x>", "a@x.gov", 1, StatusAccepted, StatusDeficient}},
	} {
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "USING") || strings.Contains(p, "SCAN") {
			t.Errorf("%s: plan %q sorts or reads without an index", q.name, p)
		}
	}
}
