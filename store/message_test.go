package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"intake/store"
)

func TestSaveRaw_dedupe(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	first := rawMsg(10, "key-A")
	id := mustSave(t, s, first)

	t.Run("same location", func(t *testing.T) {
		got, created, err := s.SaveRaw(ctx, first)
		if err != nil || created || got != id {
			t.Fatalf("SaveRaw(same location) = %d, %v, %v; want %d, false, nil", got, created, err, id)
		}
	})
	t.Run("same dedupe key from a second location", func(t *testing.T) {
		again := rawMsg(11, "key-A")
		again.Mailbox = "Archive"
		got, created, err := s.SaveRaw(ctx, again)
		if err != nil || created || got != id {
			t.Fatalf("SaveRaw(same key, other location) = %d, %v, %v; want %d, false, nil", got, created, err, id)
		}
		// The second location is filed like the first once the message is decided.
		if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusIgnored, Folder: "Ignored", Now: t0}); err != nil {
			t.Fatal(err)
		}
		for _, mb := range []string{"INBOX", "Archive"} {
			locs, err := s.Unfiled(ctx, mb, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(locs) != 1 || locs[0].Message != id || locs[0].Folder != "Ignored" {
				t.Errorf("Unfiled(%s) = %+v, want the one location of message %d to file in Ignored", mb, locs, id)
			}
		}
	})
	t.Run("other key, same Message-ID is a new message", func(t *testing.T) {
		other := rawMsg(12, "key-B")
		other.MessageID = first.MessageID // a reused Message-ID must not drop a real mail
		got, created, err := s.SaveRaw(ctx, other)
		if err != nil || !created || got == id {
			t.Fatalf("SaveRaw(other key, same Message-ID) = %d, %v, %v; want a new message", got, created, err)
		}
	})
	t.Run("empty key never matches", func(t *testing.T) {
		a, b := rawMsg(20, ""), rawMsg(21, "")
		ida, idb := mustSave(t, s, a), mustSave(t, s, b)
		if ida == idb {
			t.Fatal("two messages without a dedupe key were merged")
		}
	})
}

func TestMessage(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	in := rawMsg(3, "k")
	in.Truncated = true
	in.Size = 99 << 20
	id := mustSave(t, s, in)
	m, err := s.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != id || m.MessageID != in.MessageID || m.SHA256 != in.SHA256 || m.Size != in.Size || !m.Truncated ||
		string(m.Raw) != string(in.Raw) || m.Status != store.StatusReceived || !m.ReceivedAt.Equal(t0) || !m.ProcessedAt.IsZero() {
		t.Errorf("Message = %+v, want the saved message in status received", m)
	}
	if _, err := s.Message(ctx, id+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestAttempts_failQuarantineReplay(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a := mustSave(t, s, rawMsg(1, "a"))
	b := mustSave(t, s, rawMsg(2, "b"))

	ids, err := s.Pending(ctx)
	if err != nil || len(ids) != 2 || ids[0] != a || ids[1] != b {
		t.Fatalf("Pending = %v, %v; want [%d %d]", ids, err, a, b)
	}
	for want := 1; want <= 3; want++ {
		n, err := s.BeginAttempt(ctx, a, t0)
		if err != nil || n != want {
			t.Fatalf("BeginAttempt #%d = %d, %v", want, n, err)
		}
	}
	if _, err := s.BeginAttempt(ctx, 999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BeginAttempt(unknown) err = %v, want ErrNotFound", err)
	}

	// A failure without quarantine keeps it pending, with the reason.
	if err := s.FailAttempt(ctx, a, "parse: boom", "", t0); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(ctx, a)
	if m.Status != store.StatusReceived || m.LastError != "parse: boom" {
		t.Errorf("after FailAttempt: status %s, last error %q", m.Status, m.LastError)
	}
	// With a quarantine folder it leaves the queue and is to be filed there.
	if err := s.FailAttempt(ctx, a, "parse: boom again", "Quarantine", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Message(ctx, a)
	if m.Status != store.StatusQuarantined || m.Folder != "Quarantine" || m.LastError != "parse: boom again" ||
		!m.ProcessedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after quarantine: %+v", m)
	}
	if ids, _ := s.Pending(ctx); len(ids) != 1 || ids[0] != b {
		t.Errorf("Pending after quarantine = %v, want [%d]", ids, b)
	}
	if err := s.FailAttempt(ctx, a, "again", "Quarantine", t0); err == nil {
		t.Error("FailAttempt on a quarantined message succeeded")
	}
	locs, err := s.Unfiled(ctx, "INBOX", 1)
	if err != nil || len(locs) != 1 || locs[0].Message != a || locs[0].Folder != "Quarantine" {
		t.Fatalf("Unfiled = %+v, %v; want message %d to Quarantine", locs, err, a)
	}
	if err := s.MarkFiled(ctx, []int64{locs[0].ID}, t0); err != nil {
		t.Fatal(err)
	}

	// Replay puts it back in the queue with attempts 0; its filed location stays filed.
	if err := s.Replay(ctx, a); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Message(ctx, a)
	if m.Status != store.StatusReceived || m.Attempts != 0 {
		t.Errorf("after Replay: status %s attempts %d, want received 0", m.Status, m.Attempts)
	}
	if ids, _ := s.Pending(ctx); len(ids) != 2 || ids[0] != a {
		t.Errorf("Pending after Replay = %v, want [%d %d]", ids, a, b)
	}
	if _, err := s.Complete(ctx, store.Completion{Message: a, Status: store.StatusIgnored, Folder: "Ignored", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if locs, _ := s.Unfiled(ctx, "INBOX", 1); len(locs) != 0 {
		t.Errorf("Unfiled after replay = %+v, want none (already filed)", locs)
	}
	if err := s.Replay(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Replay(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestUnfiled_MarkFiled(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	var ids []int64
	for _, uid := range []uint32{30, 10, 20} {
		ids = append(ids, mustSave(t, s, rawMsg(uid, string(rune('a'+uid)))))
	}
	other := rawMsg(5, "other-validity")
	other.UIDValidity = 2
	otherID := mustSave(t, s, other)

	if locs, _ := s.Unfiled(ctx, "INBOX", 1); len(locs) != 0 {
		t.Fatalf("Unfiled before any decision = %+v, want none", locs)
	}
	for _, id := range append(ids, otherID) {
		if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusIgnored, Folder: "Ignored", Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// A decided message with no folder stays where it is.
	keep := mustSave(t, s, rawMsg(40, "keep"))
	if _, err := s.Complete(ctx, store.Completion{Message: keep, Status: store.StatusIgnored, Now: t0}); err != nil {
		t.Fatal(err)
	}

	locs, err := s.Unfiled(ctx, "INBOX", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 3 || locs[0].UID != 10 || locs[1].UID != 20 || locs[2].UID != 30 {
		t.Fatalf("Unfiled = %+v, want UIDs 10, 20, 30 in order", locs)
	}
	if err := s.MarkFiled(ctx, []int64{locs[0].ID, locs[2].ID}, t0); err != nil {
		t.Fatal(err)
	}
	locs, _ = s.Unfiled(ctx, "INBOX", 1)
	if len(locs) != 1 || locs[0].UID != 20 {
		t.Errorf("Unfiled after MarkFiled = %+v, want UID 20 only", locs)
	}
	if locs, _ := s.Unfiled(ctx, "INBOX", 2); len(locs) != 1 || locs[0].Message != otherID {
		t.Errorf("Unfiled(uidvalidity 2) = %+v, want message %d", locs, otherID)
	}
	if err := s.MarkFiled(ctx, nil, t0); err != nil {
		t.Errorf("MarkFiled(nil) = %v", err)
	}
}

func TestCursor(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, ok, err := s.Cursor(ctx, "INBOX"); ok || err != nil {
		t.Fatalf("Cursor of a new mailbox: ok=%v err=%v", ok, err)
	}
	for _, c := range []store.Cursor{{UIDValidity: 7, LastUID: 10}, {UIDValidity: 7, LastUID: 4000000000}, {UIDValidity: 8, LastUID: 0}} {
		if err := s.SetCursor(ctx, "INBOX", c); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Cursor(ctx, "INBOX")
		if err != nil || !ok || got != c {
			t.Errorf("Cursor = %+v, %v, %v; want %+v", got, ok, err, c)
		}
	}
	if _, ok, _ := s.Cursor(ctx, "Other"); ok {
		t.Error("cursor of another mailbox exists")
	}
}

func TestMessages_Counts(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a := mustSave(t, s, rawMsg(1, "a"))
	b := mustSave(t, s, rawMsg(2, "b"))
	c := mustSave(t, s, rawMsg(3, "c"))
	if _, err := s.Complete(ctx, store.Completion{Message: b, Status: store.StatusIgnored, Folder: "Ignored", Now: t0}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Messages(ctx, store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != c || all[2].ID != a {
		t.Fatalf("Messages = %d, first %d; want 3 newest first", len(all), all[0].ID)
	}
	if all[0].Raw != nil {
		t.Error("Messages loaded Raw")
	}
	ign, _ := s.Messages(ctx, store.MessageFilter{Status: store.StatusIgnored})
	if len(ign) != 1 || ign[0].ID != b || ign[0].Folder != "Ignored" {
		t.Errorf("Messages(ignored) = %+v", ign)
	}
	if lim, _ := s.Messages(ctx, store.MessageFilter{Limit: 2}); len(lim) != 2 {
		t.Errorf("Messages(limit 2) = %d rows", len(lim))
	}
	mustComplete(t, s, 9, submission("R-1", true, 2), t0)
	msgs, outbox, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[store.StatusReceived] != 2 || msgs[store.StatusIgnored] != 1 || msgs[store.StatusAccepted] != 1 ||
		outbox[store.OutboxQueued] != 1 {
		t.Errorf("Counts = %v, %v", msgs, outbox)
	}
}
