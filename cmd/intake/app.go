package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"intake/intake"
	"intake/intake/signin"
	"intake/intake/web"
	"intake/parser"
	"intake/parser/email"
	"intake/reply"
	"intake/store"
)

// app holds the stages wired from one configuration.
type app struct {
	cfg      *Config
	log      *slog.Logger
	store    *store.Store
	calls    *parser.Registry
	ref      *parser.Reference
	reply    *reply.Builder
	agencies []intake.Agency
	metrics  *prometheus.Registry
	lock     *store.Lock                 // held by the commands that decide mail (run, replay, import)
	memory   func()                      // restores the heap limit those commands set (run.go)
	health   func(context.Context) error // more for /healthz (intake run: the daemon's)
	// With intake run, the daemon's staff actions for the dashboard: decide
	// a stored message again, wake the outbox. nil under intake serve.
	replay     func(ctx context.Context, id int64) error
	wakeOutbox func()
	now        func() time.Time // the dashboard's clock; nil: the real one (the demo's runs in March 2025)
}

// newLogger makes the process logger. Cell values never reach it: the
// stages log ids, counts and codes only.
func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadCalls returns the built-in data calls plus those in dir; a wrong
// definition is refused here, at start, with the file and field named.
func loadCalls(dir string) (*parser.Registry, error) {
	defs, err := parser.Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in data calls: %w", err)
	}
	if dir != "" {
		more, err := parser.LoadFS(os.DirFS(dir))
		if err != nil {
			return nil, fmt.Errorf("calls_dir %s: %w", dir, err)
		}
		defs = append(defs, more...)
	}
	return parser.NewRegistry(defs...)
}

func loadReference(dir string) (*parser.Reference, error) {
	if dir == "" {
		return nil, nil
	}
	ref, err := parser.LoadReference(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("reference_dir %s: %w", dir, err)
	}
	return ref, nil
}

// openApp opens the store and loads definitions, reference data and the
// reply builder.
func openApp(ctx context.Context, e *env, cfg *Config) (*app, error) {
	return openAppMode(ctx, e, cfg, false)
}

// openAppMode is openApp; readOnly opens the store read-only
// (store.OpenReadOnly: never migrated, works on a file this user may only
// read), for the commands that only read it.
func openAppMode(ctx context.Context, e *env, cfg *Config, readOnly bool) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(e.stderr, cfg.Log)}
	var err error
	if a.calls, err = loadCalls(cfg.CallsDir); err != nil {
		return nil, err
	}
	if a.ref, err = loadReference(cfg.ReferenceDir); err != nil {
		return nil, err
	}
	if a.agencies, err = agencies(cfg.Agencies, a.ref); err != nil {
		return nil, err
	}
	if a.reply, err = reply.NewBuilder(reply.Options{From: cfg.From, FromName: cfg.FromName, Organization: cfg.Organization}); err != nil {
		return nil, err
	}
	// The store makes its directory (0700) and files (0600) itself.
	open := store.Open
	if readOnly {
		open = store.OpenReadOnly
	}
	if a.store, err = open(ctx, cfg.Store); err != nil {
		return nil, err
	}
	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return a, nil
}

func (a *app) Close() error {
	err := a.store.Close()
	a.lock.Unlock() // nil-safe: only the deciding commands hold one
	if a.memory != nil {
		a.memory()
	}
	return err
}

// agencies turns the configured allowlist into the daemon's, adding the
// .gov domains the reference data lists for an agency's organisation.
func agencies(cs []AgencyConfig, ref *parser.Reference) ([]intake.Agency, error) {
	var out []intake.Agency
	for _, c := range cs {
		a := intake.Agency{Code: c.Code, Name: c.Name, Senders: append([]string(nil), c.Senders...), Contacts: c.Contacts, WorkbookPassword: c.WorkbookPassword}
		if c.GovOrganization != "" {
			n := 0
			for domain, org := range ref.Domains {
				if strings.EqualFold(org, c.GovOrganization) {
					a.Senders = append(a.Senders, "@"+domain)
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("agency %s: no .gov domain in the reference data belongs to %q", c.Code, c.GovOrganization)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// daemonOptions wires the configuration into the daemon's options.
func (a *app) daemonOptions() (intake.Options, error) {
	c := a.cfg
	smtpTLS, err := tlsConfig(c.SMTP.Host, c.SMTP.CAFile)
	if err != nil {
		return intake.Options{}, err
	}
	smime, err := c.SMIME.smimeKeys()
	if err != nil {
		return intake.Options{}, err
	}
	signIns := newSignIns(c.OAuth)
	imapOpts, err := imapOptions(signIns, c.IMAP)
	if err != nil {
		return intake.Options{}, err
	}
	mailboxes, err := c.daemonMailboxes(signIns) // mailboxes.go
	if err != nil {
		return intake.Options{}, err
	}
	var smtpSignIn *signin.Method // no authentication without a user
	if c.SMTP.Username != "" {
		if smtpSignIn, err = signIns.method("smtp", c.SMTP.Auth, c.SMTP.Username, c.SMTP.Password, c.SMTP.TokenFile, c.SMTP.TokenCommand); err != nil {
			return intake.Options{}, err
		}
	}
	return intake.Options{
		Store: a.store, Calls: a.calls, Ref: a.ref, Agencies: a.agencies, Reply: a.reply,
		From: c.From, Own: c.OwnAddresses, DefaultCall: c.DefaultCall,
		IMAP:      imapOpts,
		Mailboxes: mailboxes,
		SMTP: intake.SMTPOptions{
			Host: c.SMTP.Host, Port: c.SMTP.Port, TLS: c.SMTP.TLS, TLSConfig: smtpTLS, SignIn: smtpSignIn,
			HELO: c.SMTP.HELO, Timeout: c.SMTP.Timeout, Connections: c.SMTP.Connections,
		},
		Folders: intake.Folders{Accepted: c.Folders.Accepted, Deficient: c.Folders.Deficient, Ignored: c.Folders.Ignored,
			Bounces: c.Folders.Bounces, Quarantine: c.Folders.Quarantine, Questions: c.Folders.Questions},
		Auth:            email.AuthPolicy{Mode: email.AuthMode(c.Auth.Mode), TrustedAuthServID: c.Auth.TrustedAuthServID, ReceivedHops: c.Auth.ReceivedHops},
		MaxAttempts:     c.MaxAttempts,
		Workers:         c.Workers,
		MaxProcessTime:  c.MaxProcessTime,
		RatePerSender:   c.RatePerSender,
		RateWindow:      c.RateWindow,
		ReminderDays:    c.ReminderDays,
		RawRetention:    c.rawRetention(),
		SMIME:           smime,
		PasswordWindow:  c.passwordWindow(),
		StartFromNow:    c.StartFromNow,
		DryRun:          c.DryRun,
		MaxMessageBytes: int64(c.MaxMessageMB) << 20,
		EmailLimits:     c.Limits.email(),
		Limits:          c.Limits.parser(),
		PollInterval:    c.PollInterval,
		Backoff:         intake.ExponentialBackoff(c.RetryMin, c.RetryMax),
		Logger:          a.log,
		Metrics:         intake.NewMetrics(a.metrics),
		Failpoint:       failpointFromEnv(),
	}, nil
}

// webHandler is the staff dashboard with /metrics beside it; a.health,
// when set, joins /healthz.
func (a *app) webHandler() (*web.Server, error) {
	if len(a.cfg.Web.Users) == 0 && a.cfg.Web.OIDC == nil {
		return nil, errors.New("web.users: the dashboard shows agency data and needs at least one user (or $INTAKE_WEB_USER and $INTAKE_WEB_PASSWORD, or web.oidc)")
	}
	users, err := a.cfg.Web.webUsers()
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, ag := range a.agencies {
		names[ag.Code] = ag.Name
	}
	var oidc *web.OIDC
	if o := a.cfg.Web.OIDC; o != nil {
		if oidc, err = o.options(); err != nil {
			return nil, err
		}
	}
	return web.New(web.Options{
		Store: a.store, Calls: a.calls, Users: users, Agencies: names, Logger: a.log,
		BehindTLSProxy: a.cfg.Web.BehindTLSProxy, Health: a.health, OIDC: oidc,
		Replay: a.replay, WakeOutbox: a.wakeOutbox, Now: a.now,
		Metrics: promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}),
	})
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// failpointFromEnv arms a crash for the crash tests: INTAKE_FAILPOINT=POINT
// or POINT:N kills the process with SIGKILL the Nth time the daemon reaches
// that point (intake.Point*). Unset, it does nothing.
func failpointFromEnv() func(string, int64) {
	spec := os.Getenv("INTAKE_FAILPOINT")
	if spec == "" {
		return nil
	}
	point, nth, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(nth)
	if err != nil || n < 1 {
		n = 1
	}
	var mu sync.Mutex
	hits := 0
	return func(p string, _ int64) {
		if p != point {
			return
		}
		mu.Lock()
		hits++
		h := hits
		mu.Unlock()
		if h == n {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL is not handled: nothing runs after it
		}
	}
}
