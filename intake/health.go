package intake

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"intake/intake/signin"
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
// counts as one. A sign-in refused (see signinFailed) is unhealthy at once,
// until a sign-in succeeds.
func (d *Daemon) Health(now time.Time) error {
	if err := d.signin.err(); err != nil {
		return err
	}
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

// signinState remembers, per server ("smtp", or "imap" and the mailbox's
// name), a sign-in that was
// refused (our password or token, by the server; our client, by the
// identity provider) until a sign-in there succeeds. Its zero value is
// ready.
type signinState struct {
	mu      sync.Mutex
	refused map[string]signinRefusal
}

type signinRefusal struct {
	since time.Time
	err   error
}

// signinFailed records a failed sign-in to server ("smtp", or "imap" and
// the mailbox's name after a space), logs it and counts it.
// A refusal (of the server, or of the identity provider) makes the daemon
// unhealthy until a sign-in succeeds; an identity provider out of reach
// only counts, as any network failure.
func (d *Daemon) signinFailed(server string, err error) {
	reason := "refused"
	var te *signin.TokenError
	if errors.As(err, &te) {
		reason = "token_unavailable"
		if te.Refused {
			reason = "token_refused"
		}
	}
	label, box, _ := strings.Cut(server, " ")
	d.metrics.SignInFailures.WithLabelValues(label, reason).Inc()
	log := d.log
	if box != "" {
		log = log.With("mailbox", box)
	}
	if reason == "token_unavailable" {
		log.Warn(label+": no access token to sign in with; will retry", "err", err)
		return
	}
	switch reason {
	case "token_refused":
		log.Error(label+": the identity provider refused our client (secret, certificate or grant): fix the oauth settings; nothing is fetched or sent meanwhile", "err", err)
	default:
		log.Error(label+": the server refused our sign-in (a wrong password, or an access token expired, revoked or without the mailbox permission)", "err", err)
	}
	s := &d.signin
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]signinRefusal{}
	}
	r, ok := s.refused[server]
	if !ok {
		r.since = d.o.Now()
	}
	r.err = err
	s.refused[server] = r
}

// signedIn records a sign-in to server that succeeded.
func (d *Daemon) signedIn(server string) {
	s := &d.signin
	s.mu.Lock()
	delete(s.refused, server)
	s.mu.Unlock()
}

// err says which servers refuse our sign-in, and since when.
func (s *signinState) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, server := range slices.Sorted(maps.Keys(s.refused)) {
		r := s.refused[server]
		label, box, _ := strings.Cut(server, " ")
		if box != "" {
			label += " (mailbox " + box + ")"
		}
		errs = append(errs, fmt.Errorf("intake: %s sign-in refused since %s: %w", label, r.since.UTC().Format(time.RFC3339), r.err))
	}
	return errors.Join(errs...)
}
