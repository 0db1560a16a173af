package workbook_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"intake/parser"
	"intake/reply"
	"intake/workbook"
)

// peak samples the live heap while a benchmark runs, and reads the
// process's peak resident set (VmHWM, reset before the timed part).
type peak struct {
	stop chan struct{}
	done sync.WaitGroup
	heap uint64
}

func startPeak(tb testing.TB) *peak {
	runtime.GC()
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets VmHWM (Linux): what the setup took
	// does not count.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p := &peak{stop: make(chan struct{})}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			p.heap = max(p.heap, s[0].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peak) report(b *testing.B) {
	close(p.stop)
	p.done.Wait()
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MB")
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.Atoi(f[1])
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
			}
		}
	}
}

// BenchmarkDeficiency100k: issue 13's worst case, a 100,000-row workbook
// (written by excelize's StreamWriter) with a bad value in every row: the
// annotated copy and the deficiency notice carrying it. Target: under 5 s
// and 256 MB.
func BenchmarkDeficiency100k(b *testing.B) {
	data, fs := allBadWorkbook(b, 100_000)
	builder, err := reply.NewBuilder(reply.Options{From: "allocation-management@opm.gov"})
	if err != nil {
		b.Fatal(err)
	}
	def := testDef()
	sub := parser.Submission{Call: def.ID, Files: []parser.FileResult{{Name: "big.xlsx", Size: int64(len(data)), SHA256: "00"}}, Findings: fs}
	p := startPeak(b)
	b.ResetTimer()
	var size int
	for range b.N {
		copyOf, err := workbook.Annotate(context.Background(), parser.Input{Name: "big.xlsx", Data: data}, fs, workbook.Options{})
		if err != nil {
			b.Fatal(err)
		}
		m, err := builder.Deficiency(reply.Outcome{Call: def, ReplyID: "bench@opm.gov", Receipt: "TST-1",
			Original: reply.Original{From: "hr@agency.gov", Subject: "report"}, Submission: sub,
			Annotated: []reply.Annotated{{File: "big.xlsx", Data: copyOf}}, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		size = len(m.Raw)
		if !bytes.Contains(m.Raw, []byte("big - issues.xlsx")) {
			b.Fatal("no annotated copy attached")
		}
	}
	b.StopTimer()
	p.report(b)
	b.ReportMetric(float64(size)/(1<<20), "mail-MB")
}
