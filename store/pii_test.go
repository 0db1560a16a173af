package store_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"intake/store"
)

// A message waiting for its password is not pending, its waiting
// acknowledgement is queued with the wait, and it is pending again once
// the wait is resolved; an expired wait is listed.
func TestPasswordWait(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := mustSave(t, s, rawMsg(1, "enc"))
	other := mustSave(t, s, rawMsg(2, "other"))
	w := store.PasswordWait{Message: id, Agency: "HS", Sender: "CHCO@dhs.gov", Receipt: "PERF-2025-000001", Until: t0.Add(time.Hour)}
	ack := &store.NewReply{MessageID: "wait-1@opm.gov", Kind: "waiting", From: "bot@opm.gov", To: []string{"chco@dhs.gov"}, Raw: []byte("x")}
	if err := s.WaitForPassword(ctx, w, ack, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx); !slices.Equal(p, []int64{other}) {
		t.Errorf("pending %v while %d waits, want [%d]", p, id, other)
	}
	if due, _ := s.DueReplies(ctx, t0, 0); len(due) != 1 || due[0].MessageID != "wait-1@opm.gov" {
		t.Errorf("waiting acknowledgement not queued: %+v", due)
	}
	if ws, err := s.OpenWaits(ctx, "chco@dhs.gov"); err != nil || len(ws) != 1 || ws[0].Receipt != w.Receipt || !ws[0].Until.Equal(w.Until) {
		t.Errorf("OpenWaits = %+v, %v", ws, err)
	}
	if ws, _ := s.ExpiredWaits(ctx, t0.Add(30*time.Minute)); len(ws) != 0 {
		t.Errorf("expired too early: %+v", ws)
	}
	if ws, _ := s.ExpiredWaits(ctx, t0.Add(2*time.Hour)); len(ws) != 1 {
		t.Errorf("expired wait not listed: %+v", ws)
	}
	if err := s.ResolveWait(ctx, id, other, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx); !slices.Equal(p, []int64{id, other}) {
		t.Errorf("pending %v after the wait, want both", p)
	}
	if w, err := s.WaitByPasswordMessage(ctx, other); err != nil || w.Message != id || !w.Resolved {
		t.Errorf("WaitByPasswordMessage = %+v, %v", w, err)
	}
	if w, err := s.WaitOf(ctx, id); err != nil || w.PasswordMessage != other {
		t.Errorf("WaitOf = %+v, %v", w, err)
	}
	if err := s.ResolveWait(ctx, id, 0, t0); err == nil {
		t.Error("a wait resolved twice")
	}
	if ws, _ := s.OpenWaits(ctx, "chco@dhs.gov"); len(ws) != 0 {
		t.Errorf("resolved wait still open: %+v", ws)
	}
}

// The raw bytes of a password mail go at once, and leave nothing in the
// file; the row stays.
func TestPurgeRawNow(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	r := rawMsg(1, "pw")
	r.Raw = append(r.Raw, bytes.Repeat([]byte("hunter2-password-line "), 300)...)
	id := mustSave(t, s, r)
	if err := s.PurgeRawNow(ctx, id, "the password of PERF-1 (not kept)", t0); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(ctx, id)
	if len(m.Raw) != 0 || m.Note == "" {
		t.Errorf("after purge: %d bytes, note %q", len(m.Raw), m.Note)
	}
	s.Close()
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("hunter2-password-line")) {
		t.Error("the password is still in the store file")
	}
}

// A verified sender's certificate is kept, replaced by a newer one, and
// not given once expired.
func TestSenderCert(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if der, err := s.SenderCert(ctx, "chco@dhs.gov", t0); der != nil || err != nil {
		t.Errorf("unknown sender: %v, %v", der, err)
	}
	if err := s.SaveSenderCert(ctx, "CHCO@dhs.gov", []byte("old"), t0.Add(24*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSenderCert(ctx, "chco@dhs.gov", []byte("new"), t0.Add(48*time.Hour), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if der, _ := s.SenderCert(ctx, "chco@dhs.gov", t0.Add(time.Hour)); string(der) != "new" {
		t.Errorf("cert %q, want the newer", der)
	}
	if der, _ := s.SenderCert(ctx, "chco@dhs.gov", t0.Add(72*time.Hour)); der != nil {
		t.Error("an expired certificate was given")
	}
}

// A completion that waits records the wait and its acknowledgement; one
// that purges a password mail does so with the decision, in one
// transaction.
func TestComplete_waitAndPurge(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a := mustSave(t, s, rawMsg(1, "workbook"))
	b := mustSave(t, s, rawMsg(2, "password"))
	_, err := s.Complete(ctx, store.Completion{Message: a, Now: t0,
		Wait:  &store.PasswordWait{Message: a, Agency: "HS", Sender: "chco@dhs.gov", Receipt: "R-1", Until: t0.Add(time.Hour)},
		Reply: &store.NewReply{MessageID: "w@opm.gov", Kind: "waiting", From: "bot@opm.gov", To: []string{"chco@dhs.gov"}, Raw: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(ctx, a); m.Status != store.StatusReceived {
		t.Errorf("a waiting message is %s", m.Status)
	}
	if err := s.ResolveWait(ctx, a, b, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, store.Completion{Message: a, Status: store.StatusDeficient, Folder: "Deficient", Now: t0, PurgeRaw: []int64{b}}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(ctx, b); len(m.Raw) != 0 {
		t.Error("the password mail's raw bytes were kept")
	}
}
