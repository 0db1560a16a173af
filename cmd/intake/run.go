package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"intake/intake"
	"intake/intake/web"
	"intake/store"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "run", "--config FILE [--dry-run] [--start-from-now]")
	path := fs.String("config", "intake.yaml", "configuration file")
	dry := fs.Bool("dry-run", false, "read the mailbox without changing it: no filing, no replies sent")
	fromNow := fs.Bool("start-from-now", false, "on first contact, leave the mail already in the mailbox alone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	cfg.DryRun = cfg.DryRun || *dry
	cfg.StartFromNow = cfg.StartFromNow || *fromNow
	if err := cfg.ValidateDaemon(); err != nil {
		return fmt.Errorf("config %s: %w", *path, err)
	}
	a, d, err := openDaemon(ctx, e, cfg, "the store %s is in use by another intake run (or a replay): one daemon per store")
	if err != nil {
		return err
	}
	defer a.Close()
	// /healthz fails when the last good poll is too old or the store cannot
	// take the next mail (a write, and room for two of the largest).
	a.health = func(ctx context.Context) error {
		return errors.Join(d.Health(time.Now()), a.store.CheckWrite(ctx, 2*int64(cfg.MaxMessageMB)<<20))
	}
	a.replay, a.wakeOutbox = d.Replay, d.WakeOutbox
	stopWeb, err := a.serveWeb(ctx, cfg.Web.Listen)
	if err != nil {
		return err
	}
	defer stopWeb()
	if a.ref == nil {
		a.log.Warn("intake: no reference_dir: agency codes, sub-agency codes and pay plans are not validated")
	}
	a.log.Info("intake: running", "mailbox", cfg.IMAP.Addr, "calls", len(a.calls.All()), "agencies", len(a.agencies), "dry_run", cfg.DryRun)
	err = d.Run(ctx)
	a.log.Info("intake: stopped")
	return err
}

// openDaemon takes the store's lock for deciding mail (when another
// process holds it, the error is whenLocked with the store's path), opens
// the app and makes the daemon. Closing the app releases the lock.
func openDaemon(ctx context.Context, e *env, cfg *Config, whenLocked string) (*app, *intake.Daemon, error) {
	lock, err := store.TakeLock(cfg.Store)
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf(whenLocked, cfg.Store)
	} else if err != nil {
		return nil, nil, err
	}
	a, err := openApp(ctx, e, cfg)
	if err != nil {
		lock.Unlock()
		return nil, nil, err
	}
	a.lock = lock
	// Every command that decides mail keeps its heap under the limit.
	a.memory = setMemoryLimit(cfg.MemoryLimitMB)
	opts, err := a.daemonOptions()
	if err == nil {
		var d *intake.Daemon
		if d, err = intake.New(opts); err == nil {
			return a, d, nil
		}
	}
	a.Close()
	return nil, nil, err
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "serve", "--config FILE [--listen ADDR]")
	path := fs.String("config", "intake.yaml", "configuration file")
	listen := fs.String("listen", "", "address to listen on (default: web.listen, else 127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	addr := firstNonEmpty(*listen, cfg.Web.Listen, "127.0.0.1:8080")
	a, err := openApp(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	stop, err := a.serveWeb(ctx, addr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// serveWeb serves the dashboard on addr until the returned stop is called;
// an empty addr serves nothing.
func (a *app) serveWeb(ctx context.Context, addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	h, err := a.webHandler()
	if err != nil {
		return nil, err
	}
	w := a.cfg.Web
	r, err := h.Start(web.ListenOptions{Addr: addr, CertFile: w.TLSCert, KeyFile: w.TLSKey})
	if err != nil {
		return nil, err
	}
	a.log.Info("web: dashboard", "url", r.URL, "behind_tls_proxy", w.BehindTLSProxy)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(sctx); err != nil {
			a.log.Error("web: stopped", "err", err)
		}
	}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// defaultMemoryLimitMB is the soft limit of the daemon's Go heap. What
// the daemon holds at once is bounded (a version diff keeps some 113 bytes
// a stored row, a check a few megabytes plus its keys, the largest mail),
// but reading, checking and annotating a large workbook allocates much
// more short-lived memory than that, and the Go collector by default
// lets the heap grow to twice what is live before it collects: on
// deadline day, with one large workbook per worker, well past what the
// work needs. The limit makes it collect sooner as the heap nears it, at
// a cost in CPU only when it is near. Memory outside the Go heap comes on
// top (SQLite's page cache of the writer, 64 MiB; the binary, some 30 MB):
// 256 keeps the process near 420 MB with a 950,000-row version diffed.
const defaultMemoryLimitMB = 256

// setMemoryLimit sets the soft limit of the Go heap to mb MiB (-1: none)
// and returns what restores the one before (tests call run in their own
// process; the app restores it when it closes). A GOMEMLIMIT in the environment wins.
func setMemoryLimit(mb int) func() {
	if os.Getenv("GOMEMLIMIT") != "" || mb < 0 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(int64(mb) << 20)
	return func() { debug.SetMemoryLimit(prev) }
}
