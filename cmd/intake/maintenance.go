package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

// cmdBackup writes a consistent copy of the store (store.Backup) while the
// daemon runs. It opens the store read-only and takes no lock.
func cmdBackup(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "backup", "FILE [--config FILE | --store FILE]")
	config, storePath := staffFlags(fs)
	if err := parseOneArg(fs, args); err != nil {
		return err
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	if err := a.store.Backup(ctx, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup of %s written to %s (0600, integrity checked) in %s\n", a.cfg.Store, fs.Arg(0), time.Since(start).Round(time.Millisecond))
	return nil
}

// cmdPurge purges now what the daemon's retention would (store.Purge), or
// with --dry-run lists it.
func cmdPurge(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "purge", "[--dry-run] [--days N] [--config FILE | --store FILE]")
	config, storePath := staffFlags(fs)
	dry := fs.Bool("dry-run", false, "list what would be purged, purge nothing")
	days := fs.Int("days", 0, "purge raw mail older than N days (default: retention_days of the configuration)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := staffConfig(*config, *storePath)
	if err != nil {
		return err
	}
	if *days > 0 {
		cfg.RetentionDays = *days
	}
	keep := cfg.rawRetention()
	if keep <= 0 {
		return fmt.Errorf("retention_days is %d: raw mail is kept; give --days N", cfg.RetentionDays)
	}
	a, err := openAppMode(ctx, e, cfg, *dry)
	if err != nil {
		return err
	}
	defer a.Close()
	now := time.Now()
	before := now.Add(-keep)
	if !*dry {
		n, size, err := a.store.Purge(ctx, before, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "purged the raw mail of %d messages (%d bytes) received before %s\n", n, size, before.Format(time.DateTime))
		return nil
	}
	list, err := a.store.Purgeable(ctx, before)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tSTATUS\tFROM\tBYTES\tNOTE")
	var total int64
	for _, p := range list {
		total += p.Size
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", p.ID, p.ReceivedAt.Format(time.DateTime), p.Status, oneLine(p.From), p.Size, oneLine(p.Note))
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "dry run: the raw mail of %d messages (%d bytes) received before %s would be purged; submissions and quarantined mail are kept\n", len(list), total, before.Format(time.DateTime))
	return nil
}
