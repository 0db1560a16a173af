package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// mailboxes: each takes what it leaves out from imap and folders, its own
// password where it names one, and a name that keys it in the store;
// names used twice, or the top-level mailbox again, are refused.
func TestMailboxesConfig(t *testing.T) {
	clearIntakeEnv(t)
	dir := t.TempDir()
	secret := writeTmp(t, filepath.Join(dir, "pw2"), "second-pw\n")
	t.Setenv("INTAKE_IMAP_PASSWORD", "top-pw")
	head := "store: " + filepath.Join(dir, "intake.db") + `
from: allocation-management@opm.gov
agencies: [{code: HS, senders: ["@dhs.gov"]}]
imap: {addr: "imap.opm.gov:993", username: allocation-management@opm.gov, timeout: 30s}
folders: {accepted: Done}
`
	cfg := writeTmp(t, filepath.Join(dir, "ok.yaml"), head+`mailboxes:
  - imap: {username: deferred-resignation@opm.gov, password_file: `+secret+`}
    folders: {quarantine: Held}
  - name: archive
    imap: {addr: "other.opm.gov:143", tls: starttls, username: allocation-management@opm.gov, mailbox: Agencies}
`)
	c, err := LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mailboxes) != 2 {
		t.Fatalf("%d mailboxes", len(c.Mailboxes))
	}
	m := c.Mailboxes[0]
	if m.Name != "deferred-resignation@opm.gov" || m.IMAP.Addr != "imap.opm.gov:993" || m.IMAP.TLS != "tls" || m.IMAP.Mailbox != "INBOX" ||
		m.IMAP.Timeout.String() != "30s" || m.IMAP.Password != "second-pw" {
		t.Errorf("first extra mailbox: %+v", m)
	}
	if m.Folders.Accepted != "Done" || m.Folders.Quarantine != "Held" || m.Folders.Deficient != "" {
		t.Errorf("its folders: %+v", m.Folders)
	}
	if a := c.Mailboxes[1]; a.Name != "archive" || a.IMAP.Password != "top-pw" || a.IMAP.TLS != "starttls" {
		t.Errorf("second extra mailbox: name %q, tls %q, password %q (want the top-level one)", a.Name, a.IMAP.TLS, a.IMAP.Password)
	}

	// Wired into the daemon: each its own sign-in and folders.
	a, err := openTestApp(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := a.daemonOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Mailboxes) != 2 || opts.Mailboxes[0].Name != "deferred-resignation@opm.gov" || opts.Mailboxes[1].IMAP.Mailbox != "Agencies" ||
		opts.Mailboxes[0].Folders.Quarantine != "Held" {
		t.Fatalf("daemon mailboxes: %+v", opts.Mailboxes)
	}
	if m := opts.Mailboxes[0].IMAP.SignIn; m.Username() != "deferred-resignation@opm.gov" || m.Password() != "second-pw" {
		t.Errorf("first extra mailbox signs in as %q with %q", m.Username(), m.Password())
	}
	if m := opts.IMAP.SignIn; m.Username() != "allocation-management@opm.gov" || m.Password() != "top-pw" {
		t.Errorf("the top-level mailbox signs in as %q with %q", m.Username(), m.Password())
	}

	for _, c := range []struct{ name, conf, want string }{
		{"same name twice", "mailboxes: [{imap: {username: a@opm.gov}}, {imap: {username: a@opm.gov}}]\n", "used twice"},
		{"the top-level mailbox again", "mailboxes: [{name: x, imap: {username: allocation-management@opm.gov}}]\n", "the same mailbox as imap"},
		{"named like the top-level key", "mailboxes: [{name: INBOX, imap: {username: b@opm.gov}}]\n", "used twice"},
		{"bad auth", "mailboxes: [{imap: {username: b@opm.gov, auth: magic}}]\n", "mailboxes[0].imap.auth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeTmp(t, filepath.Join(t.TempDir(), "bad.yaml"), head+c.conf)
			if _, err := LoadConfig(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}
