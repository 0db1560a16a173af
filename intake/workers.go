package intake

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"intake/parser/email"
)

// The deciding of stored mail: a pool of workers (Options.Workers) takes
// the pending messages, so that no agency waits behind another.
//
//   - The mail of one sender is decided in arrival order, one at a time:
//     versions and the changes an acknowledgement states depend on it. The
//     sender is the agency whose allowlist holds the From address (read
//     from the header alone, before the workbook is), else the address.
//   - Among the senders with mail waiting, the smallest message goes
//     first: a backlog of small mail drains before the large workbooks.
//   - Large messages (Options.LargeMessageBytes) take at most Workers-1
//     workers at once (one at least), so one worker is always free for
//     small mail: a large or broken workbook of one agency never holds up
//     the reply to another's small one. And none starts while the fetch
//     loop is still storing new mail, which may be small.
//   - One more worker, beyond Workers, decides small mail only: while
//     large mail takes its share, small mail still has two, so a backlog
//     of small mail (the 2,000-row workbooks among it) drains at the pace
//     it would without the large. It costs no memory to speak of: small
//     mail is small.
//
// The fetch loop stores mail and calls schedule; a worker that decided a
// message kicks the outbox, so its reply goes out at once, and wakes the
// fetch loop, which files it on its next round (see fileBatch).

// headBytes is how much of a message is read to learn its sender.
const headBytes = 64 << 10

// job is one pending message in the pool.
type job struct {
	id    int64
	key   string // its sender: mail of one key is decided in order, one at a time
	size  int64
	large bool
	done  chan struct{} // closed when the job ends
	err   error         // a store failure: the message stays pending for the next round
}

// pool is the queue of pending messages per sender and what runs.
type pool struct {
	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change: idle workers wait on it
	known      map[int64]*job
	queues     map[string][]*job // per key, in message order
	busy       map[string]bool   // keys with a job being decided
	large      int               // large jobs being decided
	workers    int               // worker goroutines running
	unfiled    int               // decided since the fetch loop was last woken to file
	sinceFiled int               // decided since the fetch loop last filed
	lastFiled  time.Time         // when it last filed
	fetching   int               // fetch loops storing new mail (one per mailbox): while any is, large mail waits
	// scan serialises schedule, so each key's queue is filled in message
	// order.
	scan sync.Mutex
	// ended lists the jobs that ended while schedule read the store
	// (tracking): what it read may show them still pending.
	ended    []int64
	tracking bool
}

func newPool() *pool {
	return &pool{changed: make(chan struct{}), known: map[int64]*job{}, queues: map[string][]*job{}, busy: map[string]bool{},
		lastFiled: time.Now()}
}

// broadcast wakes the idle workers; p.mu is held.
func (p *pool) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// take picks the next job, or nil: of the senders not busy, the one whose
// next message is smallest (then oldest); a large one only while fewer
// than maxLarge are being decided (never with maxLarge 0). p.mu is held.
func (p *pool) take(maxLarge int) *job {
	var best *job
	for key, q := range p.queues {
		if p.busy[key] || len(q) == 0 {
			continue
		}
		j := q[0]
		if j.large && (p.large >= maxLarge || p.fetching > 0) {
			continue
		}
		if best == nil || j.size < best.size || j.size == best.size && j.id < best.id {
			best = j
		}
	}
	if best == nil {
		return nil
	}
	q := p.queues[best.key][1:]
	if len(q) == 0 {
		delete(p.queues, best.key)
	} else {
		p.queues[best.key] = q
	}
	p.busy[best.key] = true
	if best.large {
		p.large++
	}
	return best
}

// fileBatch is how many decided messages wait for filing, at most, while
// more mail is being decided: filing is a round of the fetch loop (an
// fsync and a move on the server), so during a backlog it is done for many
// messages at once, and at once when the backlog is done.
const fileBatch = 50

// setFetching says a fetch loop starts (on) or ends storing new mail;
// several mailboxes fetch side by side, so the loops are counted.
func (p *pool) setFetching(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.fetching++
		return
	}
	if p.fetching--; p.fetching == 0 {
		p.broadcast()
	}
}

// finish ends a job taken by take. It reports whether the fetch loop is to
// be woken to file what was decided: every fileBatch decisions, and when
// no mail is waiting or being decided.
func (p *pool) finish(j *job, decided bool) (file bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.known, j.id)
	delete(p.busy, j.key)
	if p.tracking {
		p.ended = append(p.ended, j.id)
	}
	if j.large {
		p.large--
	}
	close(j.done)
	p.broadcast()
	if decided {
		p.unfiled++
		p.sinceFiled++
	}
	if p.unfiled > 0 && (p.unfiled >= fileBatch || p.idle()) {
		p.unfiled = 0
		return true
	}
	return false
}

// idle reports that no mail is waiting to be decided or being decided
// (p.mu held). Filing then follows at once: one round files everything
// a burst of mail came to, instead of the first decisions alone.
func (p *pool) idle() bool { return len(p.queues) == 0 && len(p.busy) == 0 }

// fileMaxLag is how long decided mail waits for filing at most, while mail
// is still waiting to be decided or being decided and fewer than fileBatch
// were.
const fileMaxLag = 10 * time.Second

// fileDue reports whether a round of the fetch loop files what was
// decided: when no mail is waiting or being decided, or fileBatch were
// decided since the last filing, or that was fileMaxLag ago. It resets
// the count when it says yes.
func (p *pool) fileDue(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle() || p.sinceFiled >= fileBatch || now.Sub(p.lastFiled) >= fileMaxLag {
		p.sinceFiled, p.lastFiled = 0, now
		return true
	}
	return false
}

// schedule queues every pending message the pool does not hold yet, in
// message order, and returns the jobs of all pending messages.
func (d *Daemon) schedule(ctx context.Context) ([]*job, error) {
	p := d.pool
	p.scan.Lock()
	defer p.scan.Unlock()
	// A job that ends while the store is read was still pending in what
	// was read: it must not be queued again.
	p.mu.Lock()
	p.ended, p.tracking = p.ended[:0], true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.tracking = false
		p.mu.Unlock()
	}()
	ids, err := d.o.Store.Pending(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	var fresh []int64
	for _, id := range ids {
		if p.known[id] == nil {
			fresh = append(fresh, id)
		}
	}
	p.mu.Unlock()
	var add []*job
	for _, id := range fresh {
		head, size, err := d.o.Store.MessageHead(ctx, id, headBytes)
		if err != nil {
			return nil, err
		}
		add = append(add, &job{id: id, key: d.senderKey(id, head), size: size, large: size >= d.o.LargeMessageBytes,
			done: make(chan struct{})})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range add {
		if p.known[j.id] != nil || slices.Contains(p.ended, j.id) {
			continue
		}
		p.known[j.id] = j
		q := p.queues[j.key]
		// In message order, also for an older message pending again (a
		// replay, a failed attempt).
		i, _ := slices.BinarySearchFunc(q, j.id, func(x *job, id int64) int { return cmp.Compare(x.id, id) })
		p.queues[j.key] = slices.Insert(q, i, j)
	}
	if len(add) > 0 {
		p.broadcast()
	}
	jobs := make([]*job, 0, len(ids))
	for _, id := range ids {
		if j := p.known[id]; j != nil {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// senderKey is the key a message is ordered by: its agency when the From
// address is on an allowlist, else the address; a message without a
// readable From is a key of its own (it is refused anyway).
func (d *Daemon) senderKey(id int64, head []byte) string {
	// The header alone: what follows the first empty line is not needed.
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(head, []byte(sep)); i >= 0 {
			head = head[:i+len(sep)]
			break
		}
	}
	msg, err := email.Parse(head, d.o.EmailLimits)
	if err != nil || msg.From == "" {
		return fmt.Sprintf("message:%d", id)
	}
	if a := d.agencyOf(msg.From); a != nil {
		return "agency:" + a.Code
	}
	return "sender:" + strings.ToLower(msg.From)
}

// runWorkers decides queued mail with n workers, and one more for small
// mail only, until ctx ends.
func (d *Daemon) runWorkers(ctx context.Context, n int) {
	p := d.pool
	p.mu.Lock()
	p.workers += n
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.workers -= n
		p.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for i := range n + 1 {
		maxLarge := max(1, d.o.Workers-1)
		if i == n {
			maxLarge = 0 // the worker reserved for small mail
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p.mu.Lock()
				j := p.take(maxLarge)
				changed := p.changed
				p.mu.Unlock()
				if j == nil {
					select {
					case <-changed:
						continue
					case <-ctx.Done():
						return
					}
				}
				decided, err := d.processOne(ctx, j.id)
				j.err = err
				if err != nil && ctx.Err() == nil {
					d.log.Error("pipeline: store failure; the message is tried again next round", "message", j.id, "err", err)
				}
				if decided {
					d.kickOutbox()
				}
				if p.finish(j, decided) {
					d.wakeFetcher()
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// withWorkers runs fn with workers deciding: those of Run if it is
// running, else a set of its own for the time of fn.
func (d *Daemon) withWorkers(ctx context.Context, fn func() error) error {
	p := d.pool
	p.mu.Lock()
	running := p.workers > 0
	p.mu.Unlock()
	if running {
		return fn()
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.runWorkers(wctx, d.o.Workers)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	return fn()
}

// wait waits for jobs to end; it returns how many ended without a store
// failure, and the first failure.
func wait(ctx context.Context, jobs []*job) (int, error) {
	n := 0
	var first error
	for _, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		if j.err != nil {
			if first == nil {
				first = j.err
			}
			continue
		}
		n++
	}
	return n, first
}

// wakeFetcher tells the fetch loops (one per mailbox) that mail was
// decided and can be filed.
func (d *Daemon) wakeFetcher() {
	for _, b := range d.boxes {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// errDeadline is the cause of a decision's context ending at
// MaxProcessTime.
var errDeadline = errors.New("max_process_time passed")
