package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"intake/intake"
)

func cmdImport(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "import", "FILE.mbox|DIR --config FILE [--reply]")
	path := fs.String("config", "intake.yaml", "configuration file")
	answer := fs.Bool("reply", false, "answer the senders (off by default: old mail was likely answered already; the replies are stored held)")
	if err := parseOneArg(fs, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	a, d, err := openDaemon(ctx, e, cfg, "import: intake run is running on %s; stop it first (import decides mail in this process, and two processes must not decide one store's mail at once)")
	if err != nil {
		return err
	}
	defer a.Close()
	source, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	opts := intake.ImportOptions{Reply: *answer}
	var bar *progressBar
	if isTerminal(e.rawStderr) {
		// An mbox is measured in bytes, a directory in files.
		unit := "files"
		if fi, err := os.Stat(source); err == nil && !fi.IsDir() {
			unit = "MB"
		}
		bar = &progressBar{w: e.rawStderr, unit: unit}
		opts.Progress = bar.update
	}
	res, err := d.Import(ctx, source, opts)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s (%s): %d messages read, %d new, %d already stored, %d too large (answered with what to send instead)\n",
		fs.Arg(0), res.Kind, res.Read, res.New, res.Duplicates, res.Truncated)
	if *answer {
		fmt.Fprintln(e.stdout, "replies are queued: `intake run` sends them when it starts")
	} else {
		fmt.Fprintln(e.stdout, "replies are stored held, never sent (--reply answers); `intake list` shows what was decided")
	}
	return nil
}

// progressBar draws how far an import went on a terminal, at most ten
// times a second; a nil bar draws nothing.
type progressBar struct {
	w    io.Writer
	unit string // MB (an mbox, read by bytes) or files
	last time.Time
	drew bool
}

func (p *progressBar) update(done, total int64) {
	if p == nil || (time.Since(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	n := int(frac * width)
	d, t := float64(done), float64(total)
	format := "%.0f/%.0f"
	if p.unit == "MB" {
		d, t, format = d/(1<<20), t/(1<<20), "%.1f/%.1f"
	}
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% "+format+" %s", strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100, d, t, p.unit)
	p.drew = true
}

func (p *progressBar) finish() {
	if p != nil && p.drew {
		fmt.Fprintln(p.w)
	}
}
