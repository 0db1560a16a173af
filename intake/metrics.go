package intake

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the daemon's Prometheus metrics. They are registered on the
// registry given to NewMetrics, never on a global one.
type Metrics struct {
	MessagesFetched   prometheus.Counter
	Duplicates        prometheus.Counter
	Processed         *prometheus.CounterVec // by outcome status
	ProcessSeconds    prometheus.Histogram
	Failures          prometheus.Counter
	Quarantined       prometheus.Counter
	Filed             prometheus.Counter
	RepliesSent       *prometheus.CounterVec // by kind
	RepliesSuppressed prometheus.Counter
	SendFailures      *prometheus.CounterVec // temporary | permanent
	IMAPReconnects    prometheus.Counter
	Reminders         prometheus.Counter
	WorkbookReader    *prometheus.CounterVec // stream | excelize (the fallback)
	SMTPUnavailable   prometheus.Counter
	LeftAlone         prometheus.Counter
	// SignInFailures: sign-ins that failed, by server (imap, smtp) and
	// reason: refused (the server refused our password or token),
	// token_refused (the identity provider refused our client),
	// token_unavailable (no token: the provider unreachable, the token
	// command failed).
	SignInFailures *prometheus.CounterVec
	Purged         prometheus.Counter // raw mail purged by retention
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, for tests and one-shot commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		MessagesFetched:   prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_fetched_total", Help: "New messages fetched and stored."}),
		Duplicates:        prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_duplicate_total", Help: "Fetched messages recognised as already stored."}),
		Processed:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_messages_processed_total", Help: "Messages decided, by outcome."}, []string{"status"}),
		ProcessSeconds:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "intake_process_seconds", Help: "Time to decide one message.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		Failures:          prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_process_failures_total", Help: "Processing attempts that failed."}),
		Quarantined:       prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_quarantined_total", Help: "Messages quarantined after failed attempts."}),
		Filed:             prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_filed_total", Help: "Messages moved to their folder on the server."}),
		RepliesSent:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_replies_sent_total", Help: "Replies accepted by the SMTP server, by kind."}, []string{"kind"}),
		RepliesSuppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_replies_suppressed_total", Help: "Replies not queued because of the per-sender rate limit."}),
		SendFailures:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_send_failures_total", Help: "Failed reply deliveries."}, []string{"kind"}),
		IMAPReconnects:    prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_imap_reconnects_total", Help: "IMAP sessions that ended and were retried."}),
		Reminders:         prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_reminders_queued_total", Help: "Deadline reminders queued."}),
		SMTPUnavailable:   prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_smtp_unavailable_total", Help: "Outbox rounds in which the SMTP server could not be reached or refused the login."}),
		LeftAlone:         prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_left_alone_total", Help: "Messages a rescan left alone: in the mailbox before start-from-now, never stored."}),
		SignInFailures:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_signin_failures_total", Help: "Sign-ins to the mail servers that failed, by server and reason (refused, token_refused, token_unavailable)."}, []string{"server", "reason"}),
		Purged:            prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_messages_purged_total", Help: "Raw messages that were not a submission, purged after their retention."}),
		WorkbookReader:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_workbooks_read_total", Help: "Workbooks read, by reader (excelize is the fallback of the streaming reader)."}, []string{"reader"}),
	}
	if reg != nil {
		reg.MustRegister(m.MessagesFetched, m.Duplicates, m.Processed, m.ProcessSeconds, m.Failures, m.Quarantined,
			m.Filed, m.RepliesSent, m.RepliesSuppressed, m.SendFailures, m.IMAPReconnects, m.Reminders, m.WorkbookReader, m.SMTPUnavailable, m.LeftAlone, m.SignInFailures, m.Purged)
	}
	return m
}
