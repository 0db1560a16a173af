package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"intake/store"
)

// appendAudit writes n entries, alice viewing TST-1 ... TST-n.
func appendAudit(t *testing.T, s *store.Store, n int) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	for i := range n {
		e, err := s.Audit(context.Background(), store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), User: "alice",
			Via: store.AuditViaWeb, Action: store.AuditView, Call: "test-call", Object: fmt.Sprintf("TST-%d", i+1),
			Detail: "client 127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func verify(t *testing.T, s *store.Store, known ...store.AuditHead) store.AuditReport {
	t.Helper()
	rep, err := s.VerifyAudit(context.Background(), known...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAudit_chainOfConcurrentWriters(t *testing.T) {
	s, path := newStore(t)
	// A second Store on the same file stands for another process (an
	// `intake export` beside the daemon).
	other, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if rep := verify(t, s); rep.Entries != 0 || len(rep.Problems) != 0 || rep.Head != (store.AuditHead{}) {
		t.Fatalf("empty log: %+v", rep)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if w%2 == 1 {
				st = other
			}
			for i := range 50 {
				_, err := st.Audit(context.Background(), store.AuditEntry{At: t0, User: fmt.Sprintf("user%d", w),
					Via: store.AuditViaCLI, Action: store.AuditExport, Object: fmt.Sprint(i)})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep := verify(t, s)
	if rep.Entries != 200 || len(rep.Problems) != 0 || rep.Head.ID != 200 {
		t.Fatalf("after 200 concurrent appends: %+v", rep)
	}
	got, err := s.AuditEntries(context.Background(), store.AuditFilter{User: "user3", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0].ID < got[1].ID || got[0].User != "user3" || !got[0].At.Equal(t0) {
		t.Errorf("user3's entries: %d, first %+v", len(got), got[0])
	}
	if rep.Head.Hash != must(s.AuditEntries(context.Background(), store.AuditFilter{Limit: 1}))[0].Hash {
		t.Error("the head is not the newest entry's hash")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAudit_required(t *testing.T) {
	s, _ := newStore(t)
	for _, e := range []store.AuditEntry{
		{User: "a", Via: "web", Action: "view"},
		{At: t0, Via: "web", Action: "view"},
		{At: t0, User: "a", Action: "view"},
		{At: t0, User: "a", Via: "web"},
	} {
		if _, err := s.Audit(context.Background(), e); err == nil {
			t.Errorf("Audit(%+v) succeeded", e)
		}
	}
}

// SQL cannot change or remove an entry: the triggers refuse.
func TestAudit_appendOnly(t *testing.T) {
	s, path := newStore(t)
	appendAudit(t, s, 3)
	db := rawDB(t, path)
	for _, q := range []string{`UPDATE audit SET user = 'mallory' WHERE id = 2`, `DELETE FROM audit WHERE id = 3`, `DELETE FROM audit`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
	if rep := verify(t, s); rep.Entries != 3 || len(rep.Problems) != 0 {
		t.Errorf("after refused changes: %+v", rep)
	}
}

const (
	dropTriggers   = `DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;`
	createTriggers = `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`
)

// Whoever can write the file can drop the triggers and change the table;
// each way of doing so is reported by VerifyAudit. The triggers are put
// back after each change, so only the chain can tell.
func TestAudit_tamperingDetected(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, entries []store.AuditEntry)
		want   string
	}{
		{"edit a field", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `UPDATE audit SET user = 'bob' WHERE id = 3`)
		}, "entry 3 was changed"},
		{"edit the time", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `UPDATE audit SET at = replace(at, '12:02', '09:02') WHERE id = 3`)
		}, "entry 3 was changed"},
		{"edit a field and its hash", func(t *testing.T, db *sql.DB, es []store.AuditEntry) {
			e := es[2]
			at := e.At.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
			h := store.AuditHash(e.ID, at, "bob", e.Via, e.Action, e.Call, e.Object, e.Detail, e.Prev)
			mustExec(t, db, `UPDATE audit SET user = 'bob', hash = ? WHERE id = 3`, h)
		}, "entry 4 does not follow entry 3"},
		{"swap two entries' content", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `UPDATE audit SET object = CASE id WHEN 2 THEN 'TST-3' ELSE 'TST-2' END WHERE id IN (2, 3)`)
		}, "entry 2 was changed"},
		{"delete one", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 3`)
		}, "entries 3 to 3 are missing"},
		{"delete the first", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 1`)
		}, "entries 1 to 1 are missing"},
		{"delete the newest", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `DELETE FROM audit WHERE id >= 4`)
		}, "entries 4 to 5, the newest, are missing"},
		{"delete all", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `DELETE FROM audit`)
		}, "entries 1 to 5, the newest, are missing"},
		{"delete one and renumber", func(t *testing.T, db *sql.DB, _ []store.AuditEntry) {
			mustExec(t, db, `DELETE FROM audit WHERE id = 3`)
			mustExec(t, db, `UPDATE audit SET id = id - 1 WHERE id > 3`)
			mustExec(t, db, `UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit'`)
		}, "entry 3 was changed"},
		{"drop the triggers", func(*testing.T, *sql.DB, []store.AuditEntry) {
			// Dropped before each case, and this one does not put them back.
		}, "triggers that keep the audit log append-only were removed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, path := newStore(t)
			entries := appendAudit(t, s, 5)
			db := rawDB(t, path)
			mustExec(t, db, dropTriggers)
			c.tamper(t, db, entries)
			if c.name != "drop the triggers" {
				mustExec(t, db, createTriggers)
			}
			rep := verify(t, s)
			if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Errorf("problems %q, want one saying %q", rep.Problems, c.want)
			}
		})
	}
}

// A log rebuilt whole, with fresh hashes, passes the chain check; a head
// written down before catches it.
func TestAudit_rebuiltLogCaughtByKnownHead(t *testing.T) {
	s, path := newStore(t)
	appendAudit(t, s, 4)
	head := verify(t, s).Head
	if head.ID != 4 {
		t.Fatalf("head %v", head)
	}
	parsed, err := store.ParseAuditHead(head.String())
	if err != nil || parsed != head {
		t.Fatalf("ParseAuditHead(%q) = %v, %v", head.String(), parsed, err)
	}
	db := rawDB(t, path)
	mustExec(t, db, dropTriggers)
	mustExec(t, db, `DELETE FROM audit`)
	mustExec(t, db, `DELETE FROM sqlite_sequence WHERE name = 'audit'`)
	mustExec(t, db, createTriggers)
	// The same four accesses but the second, written afresh.
	for i, obj := range []string{"TST-1", "TST-3", "TST-4", "TST-5"} {
		if _, err := s.Audit(context.Background(), store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), User: "alice",
			Via: store.AuditViaWeb, Action: store.AuditView, Call: "test-call", Object: obj}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := verify(t, s); len(rep.Problems) != 0 {
		t.Fatalf("a rebuilt chain is consistent in itself, yet: %q", rep.Problems)
	}
	rep := verify(t, s, head)
	if !strings.Contains(strings.Join(rep.Problems, "\n"), "entry 4 has not the hash recorded for it") {
		t.Errorf("with the known head: %q", rep.Problems)
	}
	rep = verify(t, s, store.AuditHead{ID: 9, Hash: head.Hash})
	if !strings.Contains(strings.Join(rep.Problems, "\n"), "entry 9, recorded earlier, is not in the log") {
		t.Errorf("with a head past the end: %q", rep.Problems)
	}
	for _, bad := range []string{"", "4", "x:" + head.Hash, "4:abc"} {
		if _, err := store.ParseAuditHead(bad); err == nil {
			t.Errorf("ParseAuditHead(%q) succeeded", bad)
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
