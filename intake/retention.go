package intake

import (
	"context"
	"time"
)

// retentionEvery is how often the daemon purges raw mail past its
// retention: often enough that mail goes within hours of its day.
const retentionEvery = time.Hour

// RunRetention purges, at start and then every hour until ctx ends, the raw
// bytes of mail that was not a submission (refused, ignored, bounces) once
// it is older than Options.RawRetention (store.Purge); submissions, their
// files and quarantined mail are kept. It does nothing when RawRetention is
// zero.
func (d *Daemon) RunRetention(ctx context.Context) {
	if d.o.RawRetention <= 0 {
		return
	}
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		d.PurgeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeOnce runs one retention purge now and logs what went (counts only).
func (d *Daemon) PurgeOnce(ctx context.Context) {
	now := d.o.Now()
	n, size, err := d.o.Store.Purge(ctx, now.Add(-d.o.RawRetention), now)
	switch {
	case err != nil && ctx.Err() == nil:
		d.log.Error("retention: purge failed", "err", err)
	case n > 0:
		d.log.Info("retention: raw mail purged", "messages", n, "bytes", size, "older_than", d.o.RawRetention.String())
		d.metrics.Purged.Add(float64(n))
	}
}
