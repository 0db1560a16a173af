package intake

import (
	"fmt"
	"time"
)

// minStaleAfter: how long without a good poll makes the daemon
// unhealthy: three poll intervals, and at least this long.
const minStaleAfter = 5 * time.Minute

// markPolled records a round of the fetch loop that went through.
func (d *Daemon) markPolled(t time.Time) { d.lastPoll.Store(t.UnixNano()) }

// Health reports whether the daemon is doing its job at now: nil when the
// last good round of the fetch loop (mailbox read, mail stored, decided
// and filed) is at most StaleAfter old. A daemon whose fetching stopped
// (the server unreachable, a full disk failing every store) answers an
// error saying since when. Before the first round the daemon's start
// counts as one.
func (d *Daemon) Health(now time.Time) error {
	last := d.lastPoll.Load()
	if last == 0 {
		return fmt.Errorf("intake: not running")
	}
	at := time.Unix(0, last)
	if age := now.Sub(at); age > d.o.StaleAfter {
		return fmt.Errorf("intake: no good poll of the mailbox since %s (%s ago; poll interval %s)",
			at.UTC().Format(time.RFC3339), age.Round(time.Second), d.o.PollInterval)
	}
	return nil
}
