package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"intake/internal/testenv"
	"intake/parser/parsertest"
	"intake/store"
)

// writeMailbox writes msgs as an mbox file or a Maildir with Python's own
// mailbox module, as mail programs export them.
func writeMailbox(t *testing.T, kind, path string, msgs [][]byte) {
	t.Helper()
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3")
	dir := t.TempDir()
	for i, m := range msgs {
		writeTestFile(t, filepath.Join(dir, fmt.Sprintf("%05d.eml", i)), string(m))
	}
	script := `
import mailbox, sys, glob
kind, path, src = sys.argv[1:4]
box = mailbox.mbox(path) if kind == "mbox" else mailbox.Maildir(path, create=True)
for f in sorted(glob.glob(src + "/*.eml")):
    with open(f, "rb") as fh:
        box.add(fh.read())
box.flush(); box.close()
`
	if out, err := exec.Command(py, "-c", script, kind, path, dir).CombinedOutput(); err != nil {
		t.Fatalf("python mailbox: %v\n%s", err, out)
	}
}

// `intake import`: a backlog goes through the pipeline and its dedupe;
// replies are stored held unless --reply; importing again stores nothing
// twice; mail the mailbox already had is recognised.
func TestImport(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	cfg := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfg, `store: `+db+`
from: allocation-management@opm.gov
default_call: ses-designation-review
auth: {trusted_authserv_id: `+testAuthServID+`}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}, {code: TR, name: Treasury, senders: ["@treasury.gov"]}]
`)
	good := parsertest.SESWorkbook(t, parsertest.GoodPositions(), parsertest.GoodRetentions())
	first := agencyMail(t, "chco@dhs.gov", "backlog-1@dhs.gov", good)
	msgs := [][]byte{
		first,
		agencyMail(t, "hr@treasury.gov", "backlog-2@treasury.gov", good),
		first, // the same mail exported twice
	}
	mbox := filepath.Join(dir, "export.mbox")
	writeMailbox(t, "mbox", mbox, msgs)

	out, errOut, err := runCmd(t, "import", mbox, "--config", cfg)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "3 messages read, 2 new, 1 already stored") || !strings.Contains(out, "held") {
		t.Errorf("import said:\n%s", out)
	}
	counts := func() (subs int, outbox map[string]int) {
		t.Helper()
		st, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ss, err := st.Submissions(context.Background(), store.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		_, ob, err := st.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range ss {
			// Every workbook was read (Treasury's carries DHS's rows, so
			// it is deficient; DHS's are accepted).
			if sub.Records == 0 || (sub.Agency == "HS" && sub.State == "deficient") {
				t.Errorf("submission %s of %s: %s with %d records", sub.Receipt, sub.Agency, sub.State, sub.Records)
			}
		}
		return len(ss), ob
	}
	if subs, ob := counts(); subs != 2 || ob[store.OutboxHeld] != 2 || ob[store.OutboxQueued] != 0 {
		t.Errorf("after the import: %d submissions, outbox %v; want 2 submissions, 2 replies held", subs, ob)
	}
	// Again: nothing new.
	out, _, err = runCmd(t, "import", mbox, "--config", cfg)
	if err != nil || !strings.Contains(out, "3 messages read, 0 new, 3 already stored") {
		t.Errorf("second import: %v\n%s", err, out)
	}

	// A Maildir with --reply: its new mail is answered (queued for `intake
	// run`); the mail already imported from the mbox is not decided again.
	maildir := filepath.Join(dir, "Maildir")
	writeMailbox(t, "maildir", maildir, [][]byte{first, agencyMail(t, "ses@dhs.gov", "backlog-3@dhs.gov", parsertest.SESWorkbook(t, parsertest.GoodPositions()[:2], nil))})
	out, errOut, err = runCmd(t, "import", "--reply", maildir, "--config", cfg)
	if err != nil || !strings.Contains(out, "(maildir): 2 messages read, 1 new, 1 already stored") || !strings.Contains(out, "queued") {
		t.Errorf("maildir import: %v\n%s\n%s", err, out, errOut)
	}
	if subs, ob := counts(); subs != 3 || ob[store.OutboxHeld] != 2 || ob[store.OutboxQueued] != 1 {
		t.Errorf("after --reply: %d submissions, outbox %v; want 3, 2 held and 1 queued", subs, ob)
	}

	// Not an mbox, not a mail directory: refused, naming it.
	notes := filepath.Join(dir, "notes.txt")
	writeTestFile(t, notes, "hello")
	if _, _, err := runCmd(t, "import", notes, "--config", cfg); err == nil || !strings.Contains(err.Error(), "not an mbox") {
		t.Errorf("import of a text file: %v", err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
}

// A large backlog: many messages, each decided once, memory bounded by
// the batch (the importer holds one message at a time).
func TestImport_large(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	cfg := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfg, `store: `+db+`
from: allocation-management@opm.gov
default_call: ses-designation-review
rate_per_sender: 100000
auth: {trusted_authserv_id: `+testAuthServID+`}
agencies: [{code: HS, name: Department of Homeland Security, senders: ["@dhs.gov"]}]
`)
	const n = 400
	wb := parsertest.SESWorkbook(t, parsertest.GoodPositions()[:1], nil)
	var msgs [][]byte
	for i := 0; i < n; i++ {
		msgs = append(msgs, agencyMail(t, fmt.Sprintf("office%d@dhs.gov", i), fmt.Sprintf("bulk-%d@dhs.gov", i), wb))
	}
	mbox := filepath.Join(dir, "bulk.mbox")
	writeMailbox(t, "mbox", mbox, msgs)
	out, errOut, err := runCmd(t, "import", mbox, "--config", cfg)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d messages read, %d new", n, n)) {
		t.Fatalf("import: %v\n%s\n%s", err, out, errOut)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, err := st.Pending(context.Background())
	if err != nil || len(pending) != 0 {
		t.Errorf("%d messages left undecided (%v)", len(pending), err)
	}
	if _, ob, err := st.Counts(context.Background()); err != nil || ob[store.OutboxHeld] != n {
		t.Errorf("outbox %v (%v), want %d held", ob, err, n)
	}
}

// The progress bar: drawn in place, in MB for an mbox; only on a terminal
// (TestImport's output is a buffer, and gets none).
func TestProgressBar(t *testing.T) {
	var buf strings.Builder
	bar := &progressBar{w: &buf, unit: "MB"}
	bar.update(3<<20, 12<<20)
	bar.update(12<<20, 12<<20) // the end is always drawn
	bar.finish()
	out := buf.String()
	if !strings.Contains(out, "\r[#######") || !strings.Contains(out, " 25% 3.0/12.0 MB") || !strings.Contains(out, "100% 12.0/12.0 MB\n") {
		t.Errorf("bar drew %q", out)
	}
	var none *progressBar
	none.update(1, 2) // no terminal: nothing, and no panic
	none.finish()
	if isTerminal(&buf) {
		t.Error("a buffer taken for a terminal")
	}
}
