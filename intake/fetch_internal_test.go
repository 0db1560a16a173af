package intake

import (
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"

	"intake/intake/imapbox"
)

func TestMessageID_headerOnly(t *testing.T) {
	for raw, want := range map[string]string{
		"From: a@b.gov\r\nMessage-ID: <x.1@dhs.gov>\r\n\r\nbody":      "x.1@dhs.gov",
		"Message-Id:\r\n <folded@dhs.gov>\r\nSubject: s\r\n\r\n":      "folded@dhs.gov",
		"From: a@b.gov\r\nSubject: none\r\n\r\nMessage-ID: <in@body>": "",
		"not a message at all": "",
	} {
		if got := messageID([]byte(raw)); got != want {
			t.Errorf("messageID(%q) = %q, want %q", raw, got, want)
		}
	}
}

// A batch is bounded by the sum of its messages' sizes as well as by their
// count; a message over the budget is fetched alone; one fetched
// header-only (over the message limit) costs nothing; order is kept.
func TestPlanBatches(t *testing.T) {
	const MiB = 1 << 20
	sizes := func(batches [][]imapbox.Meta) [][]int64 {
		var out [][]int64
		for _, b := range batches {
			var s []int64
			for _, m := range b {
				s = append(s, m.Size/MiB)
			}
			out = append(out, s)
		}
		return out
	}
	metas := func(mib ...int64) []imapbox.Meta {
		var ms []imapbox.Meta
		for i, s := range mib {
			ms = append(ms, imapbox.Meta{UID: imap.UID(i + 1), Size: s * MiB})
		}
		return ms
	}
	for _, c := range []struct {
		name     string
		in       []imapbox.Meta
		budget   int64
		maxCount int
		maxMsg   int64
		want     [][]int64
	}{
		{"none", nil, 64 * MiB, 50, 40 * MiB, nil},
		{"twenty of 40 MiB are not one batch", metas(40, 40, 40, 40), 64 * MiB, 20, 40 * MiB, [][]int64{{40}, {40}, {40}, {40}}},
		{"small ones fill the budget", metas(20, 20, 20, 20, 5, 30), 64 * MiB, 50, 40 * MiB, [][]int64{{20, 20, 20}, {20, 5, 30}}},
		{"the budget exactly", metas(32, 32, 1), 64 * MiB, 50, 40 * MiB, [][]int64{{32, 32}, {1}}},
		{"over the budget goes alone", metas(1, 100, 1), 64 * MiB, 50, 200 * MiB, [][]int64{{1}, {100}, {1}}},
		{"the count bounds too", metas(1, 1, 1, 1, 1), 64 * MiB, 2, 40 * MiB, [][]int64{{1, 1}, {1, 1}, {1}}},
		{"header-only costs nothing", metas(60, 500, 500, 4), 64 * MiB, 50, 40 * MiB, [][]int64{{60, 500, 500, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := planBatches(c.in, c.budget, c.maxCount, c.maxMsg)
			if !reflect.DeepEqual(sizes(got), c.want) {
				t.Fatalf("planBatches = %v MiB, want %v", sizes(got), c.want)
			}
			var uids []imap.UID
			for _, b := range got {
				var sum int64
				for _, m := range b {
					uids = append(uids, m.UID)
					if m.Size <= c.maxMsg {
						sum += m.Size
					}
				}
				if len(b) > 1 && sum > c.budget {
					t.Errorf("batch %v MiB over the budget", sizes([][]imapbox.Meta{b}))
				}
			}
			for i, u := range uids {
				if u != imap.UID(i+1) {
					t.Fatalf("batches reorder or drop messages: %v", uids)
				}
			}
		})
	}
}
