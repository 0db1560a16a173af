package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Throttle bounds failed sign-ins, per client and per user name. Each
// failure takes one from a bucket that holds Burst and gains one back each
// Every; with the bucket empty, a sign-in is answered 429 Too Many Requests
// with Retry-After, before its password is even checked, so guessing gets
// no answer at all. Zero fields take the defaults.
type Throttle struct {
	ClientBurst int           // failures one client (address; an IPv6 /64) may make in a row; default 10
	ClientEvery time.Duration // then one more each; default 6 s (10 a minute)
	UserBurst   int           // failures against one user name, from anywhere; default 5
	UserEvery   time.Duration // then one more each; default 30 s (120 an hour)
}

func (t Throttle) withDefaults() Throttle {
	if t.ClientBurst <= 0 {
		t.ClientBurst = 10
	}
	if t.ClientEvery <= 0 {
		t.ClientEvery = 6 * time.Second
	}
	if t.UserBurst <= 0 {
		t.UserBurst = 5
	}
	if t.UserEvery <= 0 {
		t.UserEvery = 30 * time.Second
	}
	return t
}

// maxThrottleKeys bounds the memory of a limiter: past it, keys whose
// bucket is full again are forgotten, then arbitrary ones (an attacker
// with that many addresses or names can at most win back a few tries).
const maxThrottleKeys = 10000

// limiter is a set of buckets kept as the generic cell rate algorithm does:
// per key, the time its bucket is full again (tat). A try moves tat one
// interval on (from now, if it was past), and a success moves it back; a
// key is blocked while tat is more than burst-1 intervals ahead.
type limiter struct {
	burst int
	every time.Duration
	mu    sync.Mutex
	tat   map[string]time.Time
}

func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: burst, every: every, tat: map[string]time.Time{}}
}

// take charges key one try at now, when it may try: it returns 0, and the
// try counts as a failure until refunded. Otherwise it charges nothing and
// returns how long key must wait. Charging before the password is checked
// makes check-and-count one step, so tries made at once cannot all pass.
func (l *limiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if w := tat.Sub(now) - time.Duration(l.burst-1)*l.every; ok && w > 0 {
		return w
	}
	if !ok && len(l.tat) >= maxThrottleKeys {
		l.prune(now)
	}
	if tat.Before(now) {
		tat = now
	}
	l.tat[key] = tat.Add(l.every)
	return 0
}

// refund takes back a try charged by take: it succeeded.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tat, ok := l.tat[key]; ok {
		l.tat[key] = tat.Add(-l.every)
	}
}

// prune forgets the keys whose bucket is full again, and, while still
// too many, arbitrary keys. l.mu is held.
func (l *limiter) prune(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
	for k := range l.tat {
		if len(l.tat) < maxThrottleKeys {
			break
		}
		delete(l.tat, k)
	}
}

// clientAddr is the address a request comes from: the peer's; behind a
// TLS proxy, the address the proxy appended last to X-Forwarded-For (a
// client can write the field's earlier entries, never that one).
func clientAddr(r *http.Request, behindProxy bool) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if behindProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				addr = last
			}
		}
	}
	return addr
}

// clientKey is the client a sign-in is counted against: its address, an
// IPv6 address by its /64, which one client usually has whole.
func clientKey(r *http.Request, behindProxy bool) string {
	addr := clientAddr(r, behindProxy)
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
