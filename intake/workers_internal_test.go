package intake

import (
	"slices"
	"testing"
)

// The pool's choice: of the senders not busy, the smallest next message;
// a sender's mail in order, one at a time; large mail on at most maxLarge
// workers, and not while the fetch loop is storing new mail.
func TestPool_take(t *testing.T) {
	p := newPool()
	add := func(id int64, key string, size int64, large bool) {
		j := &job{id: id, key: key, size: size, large: large, done: make(chan struct{})}
		p.known[id] = j
		p.queues[key] = append(p.queues[key], j)
	}
	add(1, "agency:TR", 9<<20, true)
	add(2, "agency:ED", 8<<20, true)
	add(3, "agency:HS", 20<<10, false)
	add(4, "agency:HS", 10<<10, false) // smaller, but after HS's first
	add(5, "agency:DJ", 30<<10, false)

	p.fetching = true
	var order []int64
	var taken []*job
	for {
		j := p.take(1)
		if j == nil {
			break
		}
		order = append(order, j.id)
		taken = append(taken, j)
	}
	// HS's first (20 KB) before DJ's (30 KB); HS's second waits for its
	// first; no large mail while fetching.
	if want := []int64{3, 5}; !slices.Equal(order, want) {
		t.Fatalf("taken while fetching %v, want %v", order, want)
	}
	p.fetching = false
	if j := p.take(1); j == nil || j.id != 2 {
		t.Fatalf("after fetching, took %+v, want the smaller large mail 2", j)
	}
	if j := p.take(1); j != nil {
		t.Fatalf("took %d with one large mail being decided and maxLarge 1", j.id)
	}
	p.finish(taken[0], true) // HS's first is done
	if j := p.take(1); j == nil || j.id != 4 {
		t.Fatalf("took %+v, want HS's second now that its first is done", j)
	}
}
