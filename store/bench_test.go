package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"intake/store"
)

// BenchmarkCompleteSubmission100k stores a submission of 100,000 records of
// 12 fields each with its reply: one Complete, one transaction.
func BenchmarkCompleteSubmission100k(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b)
	recs := records("position-report", 100_000)
	b.ReportAllocs()
	var cpu time.Duration // CPU time of the process while timed: the machine may be shared
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		uid := uint32(i + 1)
		id := mustSave(b, s, rawMsg(uid, fmt.Sprintf("bench-%d", uid)))
		sub := submission(fmt.Sprintf("R-%d", uid), true, 0)
		sub.Result.Records = recs
		b.StartTimer()
		start := cpuTime(b)
		if _, err := s.Complete(ctx, store.Completion{Message: id, Status: store.StatusAccepted, Folder: "Accepted",
			Submission: sub, Reply: reply(fmt.Sprintf("reply-%d@intake", uid), "acknowledgement"), Now: t0}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - start
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
