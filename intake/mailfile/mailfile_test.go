package mailfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"intake/intake/mailfile"
	"intake/internal/testenv"
)

// pyWrite writes the messages with Python's own mailbox module (as mail
// programs write mbox and Maildir), into path as kind "mbox" or "maildir".
func pyWrite(t *testing.T, kind, path string, msgs []string) {
	t.Helper()
	py := testenv.LookPath(t, "/usr/bin/python3", "Debian's python3")
	dir := t.TempDir()
	for i, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.eml", i)), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import mailbox, sys, glob, email
kind, path, src = sys.argv[1:4]
box = mailbox.mbox(path) if kind == "mbox" else mailbox.Maildir(path, create=True)
box.lock()
for f in sorted(glob.glob(src + "/*.eml")):
    with open(f, "rb") as fh:
        msg = mailbox.mboxMessage(fh.read()) if kind == "mbox" else mailbox.MaildirMessage(fh.read())
    if kind == "mbox":
        msg.set_from("chco@dhs.gov", (2025, 3, 1, 9, 30, 0, 0, 0, 0))
    box.add(msg)
box.flush(); box.unlock(); box.close()
`
	if out, err := exec.Command(py, "-c", script, kind, path, dir).CombinedOutput(); err != nil {
		t.Fatalf("python mailbox: %v\n%s", err, out)
	}
}

func message(i int, body string) string {
	return fmt.Sprintf("From: chco@dhs.gov\nTo: allocation-management@opm.gov\nSubject: report %d\nMessage-ID: <m%d@dhs.gov>\nDate: Mon, 3 Mar 2025 10:00:00 -0500\n\n%s\n", i, i, body)
}

func readAll(t *testing.T, path string, max int64) (*mailfile.Source, []*mailfile.Message) {
	t.Helper()
	src, err := mailfile.Open(path, max)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []*mailfile.Message
	for {
		m, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return src, out
}

// Every message back as written, a body line beginning "From " included
// (the mbox writer escaped it), and one over the limit header-only. (A
// body line that began ">From " is ambiguous in mbox: Python writes it as
// it is, mboxrd writers add a '>'; it is read the mboxrd way.)
func TestMboxAndMaildir(t *testing.T) {
	big := strings.Repeat("x", 70) + "\n"
	msgs := []string{
		message(1, "Our report.\nFrom the office of the CHCO: see attached.\n"),
		message(2, strings.Repeat(big, 3000)), // ~213 KB
		message(3, "Last one."),
	}
	for _, kind := range []string{"mbox", "maildir"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "export")
			pyWrite(t, kind, path, msgs)
			src, got := readAll(t, path, 100<<10)
			if src.Kind != kind || len(got) != 3 {
				t.Fatalf("%s: %d messages read as %s, want 3", kind, len(got), src.Kind)
			}
			if src.Done != src.Total {
				t.Errorf("progress %d of %d at the end", src.Done, src.Total)
			}
			for _, m := range got {
				// A Maildir has no order beyond its names' delivery
				// times (one second here): match by Message-ID.
				i := slices.IndexFunc(msgs, func(w string) bool {
					return bytes.Contains(m.Raw, []byte(w[strings.Index(w, "Message-ID:"):strings.Index(w, "Date:")]))
				})
				if i < 0 {
					t.Fatalf("message not written: %q", m.Raw)
				}
				want := []byte(msgs[i])
				switch {
				case i == 1:
					if !m.Truncated || !bytes.HasPrefix(want, m.Raw) || !bytes.Contains(m.Raw, []byte("Message-ID: <m2@dhs.gov>")) || len(m.Raw) > 1000 {
						t.Errorf("large message: truncated=%v, %d bytes: want its header only", m.Truncated, len(m.Raw))
					}
					if m.Size < int64(len(want)) {
						t.Errorf("large message size %d, want at least %d", m.Size, len(want))
					}
				case !bytes.Equal(bytes.ReplaceAll(m.Raw, []byte("\r\n"), []byte("\n")), want):
					t.Errorf("message %d:\n got %q\nwant %q", i+1, m.Raw, want)
				}
				if m.Date.IsZero() {
					t.Errorf("message %d has no date", i+1)
				}
			}
		})
	}
}

// A directory of .eml files (Outlook's "Save as"), and what is neither.
func TestEMLDirectory(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 2; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d.eml", i)), []byte(message(i, "body")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not mail"), 0o600)
	src, got := readAll(t, dir, 1<<20)
	if src.Kind != "eml" || len(got) != 2 {
		t.Errorf("%d messages as %s, want 2 as eml", len(got), src.Kind)
	}
	if _, err := mailfile.Open(t.TempDir(), 1<<20); err == nil {
		t.Error("an empty directory was accepted")
	}
	notMbox := filepath.Join(dir, "notes.txt")
	if _, err := mailfile.Open(notMbox, 1<<20); err == nil || !strings.Contains(err.Error(), "not an mbox") {
		t.Errorf("a text file: %v, want refused as not an mbox", err)
	}
}

// A large mbox is read a message at a time: many messages, each whole.
func TestMbox_many(t *testing.T) {
	var b strings.Builder
	const n = 5000
	for i := 0; i < n; i++ {
		// mboxrd: the body's "From " and ">From " lines get one more '>'.
		fmt.Fprintf(&b, "From chco@dhs.gov Sat Mar  1 09:30:00 2025\n%s\n", message(i, ">From here on\n>>From quoted\nbody"))
	}
	path := filepath.Join(t.TempDir(), "big.mbox")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	_, got := readAll(t, path, 1<<20)
	if len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if !strings.Contains(string(m.Raw), fmt.Sprintf("<m%d@dhs.gov>", i)) || !strings.HasSuffix(string(m.Raw), "\n\nFrom here on\n>From quoted\nbody\n") {
			t.Fatalf("message %d: %q", i, m.Raw)
		}
	}
}
