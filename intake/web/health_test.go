package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"intake/store"
)

// Issue 14: /healthz answered ok while the disk was full and fetching had
// stopped. What Health says (here: the store's write check asking for more
// free space than any disk has, and a stale poll) makes it 503.
func TestHealthz_unhealthyDaemonOrStore(t *testing.T) {
	for name, tc := range map[string]struct {
		health func(*store.Store) func(context.Context) error
		want   string
	}{
		"store cannot write": {func(st *store.Store) func(context.Context) error {
			return func(ctx context.Context) error { return st.CheckWrite(ctx, 1<<62) }
		}, "free"},
		"no good poll": {func(*store.Store) func(context.Context) error {
			return func(context.Context) error { return errors.New("intake: no good poll of the mailbox since ...") }
		}, "no good poll"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, options{health: tc.health})
			res := f.get("/healthz", "-")
			if b := body(t, res); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, tc.want) {
				t.Errorf("healthz = %d %q, want 503 saying %q", res.StatusCode, b, tc.want)
			}
		})
	}
	f := newFixture(t, options{health: func(st *store.Store) func(context.Context) error {
		return func(ctx context.Context) error { return st.CheckWrite(ctx, 1<<20) }
	}})
	if res := f.get("/healthz", "-"); res.StatusCode != http.StatusOK {
		t.Errorf("healthz with a writable store = %d, want 200", res.StatusCode)
	}
}
