package main

import (
	"fmt"
	"strings"

	"intake/intake"
)

// MailboxConfig is one more mailbox of the daemon. Its imap settings left
// empty are those of the top-level imap (the same server, another user or
// folder); its folders left empty are the top-level folders.
type MailboxConfig struct {
	// Name keys the mailbox in the store (its cursor, where its mail is):
	// unique, and never changed once mail was fetched. Default: the
	// imap username, then "/" and the folder when it is not INBOX.
	Name    string        `yaml:"name"`
	IMAP    IMAPConfig    `yaml:"imap"`
	Folders FoldersConfig `yaml:"folders"`
}

// mailboxDefaults fills each extra mailbox from the top-level settings.
// It runs after applyDefaults and before the secrets are read.
func (c *Config) mailboxDefaults() {
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		top := c.IMAP
		def := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		def(&m.IMAP.Addr, top.Addr)
		def(&m.IMAP.TLS, top.TLS)
		def(&m.IMAP.CAFile, top.CAFile)
		def(&m.IMAP.Auth, top.Auth)
		def(&m.IMAP.Mailbox, "INBOX")
		if m.IMAP.Timeout == 0 {
			m.IMAP.Timeout = top.Timeout
		}
		// Tokens come from the top-level sources unless the mailbox names
		// its own (the password: see resolveSecrets).
		if m.IMAP.TokenFile == "" && m.IMAP.TokenCommand == "" {
			m.IMAP.TokenFile, m.IMAP.TokenCommand = top.TokenFile, top.TokenCommand
		}
		f := &m.Folders
		def(&f.Accepted, c.Folders.Accepted)
		def(&f.Deficient, c.Folders.Deficient)
		def(&f.Ignored, c.Folders.Ignored)
		def(&f.Bounces, c.Folders.Bounces)
		def(&f.Quarantine, c.Folders.Quarantine)
		if m.Name == "" {
			m.Name = m.IMAP.Username
			if !strings.EqualFold(m.IMAP.Mailbox, "INBOX") {
				m.Name += "/" + m.IMAP.Mailbox
			}
		}
	}
}

// validateMailboxes checks the extra mailboxes: each named once, none the
// top-level mailbox again.
func (c *Config) validateMailboxes() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	seen := map[string]bool{c.IMAP.Mailbox: true} // the top-level mailbox's key in the store
	for i, m := range c.Mailboxes {
		where := fmt.Sprintf("mailboxes[%d]", i)
		if m.Name == "" {
			bad("%s: name (or imap.username) is required", where)
			continue
		}
		if seen[m.Name] {
			bad("%s: name %q is used twice (the top-level mailbox is %q)", where, m.Name, c.IMAP.Mailbox)
		}
		seen[m.Name] = true
		if m.IMAP.Addr == c.IMAP.Addr && m.IMAP.Username == c.IMAP.Username && m.IMAP.Mailbox == c.IMAP.Mailbox {
			bad("%s (%s): the same mailbox as imap", where, m.Name)
		}
		oneOf := func(name, v string, allowed ...string) {
			for _, a := range allowed {
				if v == a {
					return
				}
			}
			bad("%s.%s: %q is not one of %s", where, name, v, strings.Join(allowed, ", "))
		}
		oneOf("imap.tls", m.IMAP.TLS, "tls", "starttls", "none")
		oneOf("imap.auth", m.IMAP.Auth, "plain", "login", "xoauth2", "oauthbearer")
		if m.IMAP.TokenFile != "" && m.IMAP.TokenCommand != "" {
			bad("%s.imap.token_file and token_command: set one of them", where)
		}
	}
	return errs
}

// imapOptions wires one mailbox's imap settings.
func imapOptions(s *signIns, c IMAPConfig) (intake.IMAPOptions, error) {
	tlsCfg, err := tlsConfig(hostOf(c.Addr), c.CAFile)
	if err != nil {
		return intake.IMAPOptions{}, err
	}
	m, err := s.method("imap", c.Auth, c.Username, c.Password, c.TokenFile, c.TokenCommand)
	if err != nil {
		return intake.IMAPOptions{}, err
	}
	return intake.IMAPOptions{Addr: c.Addr, TLS: c.TLS, TLSConfig: tlsCfg, SignIn: m, Username: c.Username,
		Mailbox: c.Mailbox, Timeout: c.Timeout, DisableIdle: c.DisableIdle}, nil
}

// daemonMailboxes wires the extra mailboxes.
func (c *Config) daemonMailboxes(s *signIns) ([]intake.Mailbox, error) {
	var out []intake.Mailbox
	for i, m := range c.Mailboxes {
		o, err := imapOptions(s, m.IMAP)
		if err != nil {
			return nil, fmt.Errorf("mailboxes[%d]: %w", i, err)
		}
		f := m.Folders
		out = append(out, intake.Mailbox{Name: m.Name, IMAP: o, Folders: intake.Folders{Accepted: f.Accepted, Deficient: f.Deficient,
			Ignored: f.Ignored, Bounces: f.Bounces, Quarantine: f.Quarantine}})
	}
	return out, nil
}
