package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"intake/intake"
	"intake/intake/demo"
	"intake/intake/localmail"
	"intake/parser/email"
	"intake/store"
)

// demoClock starts the demo's clock on 14 March 2025, ten days before
// the SES review's deadline, and lets it run.
func demoClock() func() time.Time {
	ny, _ := time.LoadLocation("America/New_York") // embedded: parser imports time/tzdata
	start, real := time.Date(2025, 3, 14, 10, 0, 0, 0, ny), time.Now()
	return func() time.Time { return start.Add(time.Since(real)) }
}

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "demo", "[--dir DIR] [--listen ADDR] [--serve=false]")
	dir := fs.String("dir", "", "where the SQLite file goes (default: a new temporary directory)")
	listen := fs.String("listen", "127.0.0.1:8080", "dashboard address")
	serve := fs.Bool("serve", true, "keep serving the dashboard after the replies, until interrupted")
	verbose := fs.Bool("v", false, "show the daemon's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "intake-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	imapSrv, err := localmail.StartIMAP(localmail.IMAPOptions{Username: "allocation-management", Password: "demo"})
	if err != nil {
		return err
	}
	defer imapSrv.Close()
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		return err
	}
	defer smtpSrv.Close()
	smtpHost, smtpPort := splitHostPort(smtpSrv.Addr)

	// The embedded defaults: the built-in calls, two agencies, DMARC
	// or aligned DKIM from the demo's receiving server required.
	cfg := &Config{
		Store: filepath.Join(*dir, "intake.db"), From: "allocation-management@opm.gov", FromName: "OPM Data Call Intake",
		Organization: "U.S. Office of Personnel Management", DefaultCall: "ses-designation-review",
		IMAP: IMAPConfig{Addr: imapSrv.Addr, TLS: "none", Username: imapSrv.Username, Password: imapSrv.Password},
		SMTP: SMTPConfig{Host: smtpHost, Port: smtpPort, TLS: "none"},
		Auth: AuthConfig{TrustedAuthServID: demo.AuthServID},
		Web: WebConfig{Listen: *listen, Users: map[string]UserConfig{
			"demo": {Role: "admin", Grants: []string{"performance-below-fully-successful"}, password: "demo"}}},
		Log:          LogConfig{Level: "info", Format: "text"},
		PollInterval: 2 * time.Second,
		RetryMin:     time.Second,
		RetryMax:     5 * time.Second,
	}
	for _, a := range demo.Agencies {
		cfg.Agencies = append(cfg.Agencies, AgencyConfig{Code: a.Code, Name: a.Name, Senders: []string{"@" + a.Domain}})
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	logTo := e.stderr
	if !*verbose {
		cfg.Log.Level = "error"
	}
	a, err := openApp(ctx, &env{stdout: e.stdout, stderr: logTo}, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	opts, err := a.daemonOptions()
	if err != nil {
		return err
	}
	clock := demoClock()
	opts.Now = clock
	d, err := intake.New(opts)
	if err != nil {
		return err
	}

	def := a.calls.Get("ses-designation-review")
	samples, err := demo.Samples(def, cfg.From, clock())
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "intake demo: in-process IMAP %s and SMTP %s, store %s\n", imapSrv.Addr, smtpSrv.Addr, cfg.Store)
	fmt.Fprintf(w, "The clock reads %s; the SES review is due %s.\n\n", clock().Format("Monday 2 January 2006"), def.Deadline.Date)
	answered := 0
	for i, s := range samples {
		if _, err := imapSrv.Deliver("INBOX", s.Raw); err != nil {
			return err
		}
		fmt.Fprintf(w, "  delivered %d. %s\n", i+1, s.Title)
		if s.Answered {
			answered++
		}
	}
	fmt.Fprintln(w)

	runCtx, stopDaemon := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { stopDaemon(); <-done }()

	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	replies, err := smtpSrv.Wait(waitCtx, answered)
	if err != nil {
		return fmt.Errorf("demo: waiting for replies: %w", err)
	}
	if err := waitEmpty(waitCtx, imapSrv, "INBOX"); err != nil {
		return err
	}
	for i, r := range replies {
		m, err := email.Parse(r.Data, email.DefaultLimits())
		if err != nil {
			return err
		}
		var files []string
		for _, at := range m.Attachments {
			files = append(files, at.Name)
		}
		fmt.Fprintf(w, "──── reply %d of %d ─────────────────────────────────────────────\n", i+1, len(replies))
		fmt.Fprintf(w, "To: %s\nSubject: %s\n", strings.Join(r.To, ", "), m.Subject)
		if len(files) > 0 {
			fmt.Fprintf(w, "Attached: %s\n", strings.Join(files, ", "))
		}
		fmt.Fprintf(w, "\n%s\n\n", strings.TrimSpace(m.Text))
	}
	fmt.Fprintln(w, "──── mailbox ───────────────────────────────────────────────────")
	for _, box := range []string{"INBOX", "Accepted", "Deficient", "Questions", "Quarantine", "Ignored"} {
		n, err := imapSrv.Count(box)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-11s %d\n", box, n)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "──── intake status ─────────────────────────────────────────────")
	if err := cmdStatus(ctx, &env{stdout: w, stderr: e.stderr, now: clock}, []string{"--store", cfg.Store, "--call", def.ID}); err != nil {
		return err
	}
	// Hints a shell runs as printed: the binary as it can be reached now.
	self, db := selfCommand(), shellQuote(cfg.Store)
	fmt.Fprintf(w, "Try: %s status --store %s\n     %s list --store %s\n     %s show --store %s %s\n     %s export --store %s --call %s -o %s\n\n",
		self, db, self, db, self, db, firstReceipt(ctx, a), self, db, def.ID, shellQuote(filepath.Join(*dir, "export.csv")))
	if !*serve {
		return nil
	}
	a.replay, a.wakeOutbox, a.now = d.Replay, d.WakeOutbox, clock
	stopWeb, err := a.serveWeb(ctx, cfg.Web.Listen)
	if err != nil {
		return err
	}
	defer stopWeb()
	fmt.Fprintf(w, "Dashboard: http://%s/  (user demo, password demo). Ctrl-C stops the demo.\n", cfg.Web.Listen)
	<-ctx.Done()
	return nil
}

// selfCommand is how a shell reaches this binary: "intake" when that
// name on PATH is this very file, else its absolute path; a binary `go
// run` built (gone once it exits) is "go run ./cmd/intake", from the
// module's root.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "intake"
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	if onPath, err := exec.LookPath("intake"); err == nil {
		if real, err := filepath.EvalSymlinks(onPath); err == nil && real == exe {
			return "intake"
		}
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/intake"
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./:=@+,
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstReceipt(ctx context.Context, a *app) string {
	subs, err := a.store.Submissions(ctx, store.ListFilter{Limit: 1000})
	if err != nil || len(subs) == 0 {
		return "RECEIPT"
	}
	return subs[len(subs)-1].Receipt
}

// waitEmpty waits until every message of a mailbox was filed.
func waitEmpty(ctx context.Context, s *localmail.IMAPServer, box string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := s.Count(box)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: %d messages still in %s: %w", n, box, ctx.Err())
		case <-tick.C:
		}
	}
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	port, _ := strconv.Atoi(addr[i+1:])
	return addr[:i], port
}
