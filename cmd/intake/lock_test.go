package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"intake/store"
)

// One process decides a store's mail at a time: while `intake run` holds
// the store, a second `intake run` and `intake replay` refuse to start,
// saying why; the read-only commands still work.
func TestStoreLockedByRunningDaemon(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	cfg := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfg, fmt.Sprintf(`store: %s
from: allocation-management@opm.gov
imap: {addr: "127.0.0.1:1", tls: none, username: bot, password: x}
smtp: {host: 127.0.0.1, port: 1, tls: none}
agencies: [{code: HS, senders: ["@dhs.gov"]}]
`, db))
	lock, err := store.TakeLock(db) // what a running `intake run` holds
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "run", "--config", cfg); err == nil || !strings.Contains(err.Error(), "in use by another intake run") {
		t.Errorf("a second run: %v, want refused", err)
	}
	if _, _, err := runCmd(t, "replay", "1", "--config", cfg); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("replay beside a running daemon: %v, want refused", err)
	}
	lock.Unlock()
	if _, _, err := runCmd(t, "replay", "1", "--config", cfg); err == nil || !strings.Contains(err.Error(), "no message 1") {
		t.Errorf("replay with the store free: %v, want it to look for message 1", err)
	}
	lock, err = store.TakeLock(db)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if _, _, err := runCmd(t, "status", "--config", cfg); err != nil {
		t.Errorf("status beside a running daemon: %v", err)
	}
}
