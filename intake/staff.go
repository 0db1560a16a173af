package intake

// WakeOutbox wakes the outbox, so a reply staff released or queued again
// (on the dashboard) goes out now rather than at the outbox's next look.
func (d *Daemon) WakeOutbox() { d.kickOutbox() }
