package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"intake/internal/testenv"
	"intake/parser"
	"intake/store"
)

// The dashboard in a real browser: Debian's headless Chromium, driven over
// the DevTools protocol (chromedp), at desktop and phone width. Each page
// is checked for what it shows, for no horizontal scrolling at 420 px,
// for landmarks and labelled form fields, and for the contrast of every
// piece of text against what is behind it (WCAG 2.1 AA: 4.5:1). A
// screenshot of each is written to $INTAKE_SCREENSHOT_DIR, else to a new
// temporary directory the log names.

// browser starts Chromium with a fresh profile and returns a context
// driving one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := lookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		testenv.Missing(t, "chromium (Debian's package chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("INTAKE_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "intake-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pageChecks is the script run on each page: what a person could not
// use. It returns a list of problems (empty when none).
const pageChecks = `(() => {
	const problems = [];
	const phone = window.innerWidth <= 420;
	if (document.documentElement.scrollWidth > window.innerWidth + 1)
		problems.push("page scrolls sideways: " + document.documentElement.scrollWidth + " > " + window.innerWidth);
	for (const sel of ["header", "main", "h1"])
		if (!document.querySelector(sel)) problems.push("no " + sel);
	for (const e of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
		if (!e.labels || e.labels.length === 0) problems.push("field without a label: " + e.outerHTML.slice(0, 80));
	for (const e of document.querySelectorAll("[tabindex]:not(a):not(button):not(input):not(select)"))
		if (!e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")) problems.push("focusable region without a name");
	// Contrast of every text against the first opaque background behind it.
	const rgb = s => { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
	const bg = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; }
		return {r: 255, g: 255, b: 255, a: 1}; };
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	const seen = new Set();
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const e = n.parentElement;
		if (!n.textContent.trim() || seen.has(e) || e.closest("svg")) continue;
		seen.add(e);
		const st = getComputedStyle(e);
		if (st.visibility === "hidden" || st.display === "none" || e.getClientRects().length === 0) continue;
		const r = e.getBoundingClientRect();
		if (r.right < 0 || r.bottom < 0) continue; // off screen (the skip link until focused)
		const fg = lum(rgb(st.color)), b = lum(bg(e));
		const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
		if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + ":1 of '" + n.textContent.trim().slice(0, 30) + "' (" + e.tagName + "." + e.className + ")");
	}
	return problems;
})()`

func TestBrowser_mainPages(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t, withAdmin(t, options{}))
	f.seed()
	for i := range 60 {
		a := []string{"HS", "DJ", "TR"}[i%3]
		f.submit(sub{receipt: fmt.Sprintf("TST-%03d", 100+i), agency: a, accepted: i%4 != 0,
			records: []parser.Record{pos(a, fmt.Sprintf("P-%03d", i), "a rather long note about this position, to wrap")}})
	}
	heldID := f.held()
	qID := f.question("HS", "", "SES review: vacant positions?",
		"Does the SES review include vacant positions? We have three that have been vacant since January.", now.Add(-time.Hour))
	ts := httptest.NewServer(f.srv)
	t.Cleanup(ts.Close)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(admin+":"+adminPass))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	dir := screenshotDir(t)
	t.Logf("screenshots in %s", dir)

	pages := []struct {
		name, path string
		want       []string // in the text of main
	}{
		{"overview", "/", []string{"Test call", "Chart, totals and agencies"}},
		{"call", "/calls/test-call", []string{"Totals", "expected", "Agencies", "Department of the Treasury"}},
		{"attention", "/attention", []string{"Needs attention", "Replies held", "Reply"}},
		{"submissions", "/submissions", []string{"Submissions", "TST-159", "1–50 of 63"}},
		{"submission", "/submissions/TST-1", []string{"Submission TST-1", "The mail as received", "Position report"}},
		{"messages", "/messages", []string{"Mail", "hr@agency.gov"}},
		{"reply", fmt.Sprintf("/replies/%d", heldID), []string{"held", "Release: send this reply", "held text"}},
		{"question", fmt.Sprintf("/questions/%d", qID), []string{"Question", "SES review: vacant positions?",
			"Does the SES review include vacant positions?", "Department of Homeland Security", "Mark answered"}},
	}
	for _, width := range []int64{1280, 420} {
		for _, p := range pages {
			t.Run(fmt.Sprintf("%s@%d", p.name, width), func(t *testing.T) {
				err := chromedp.Do(ctx,
					chromedp.EmulateViewport(width, 900),
					chromedp.Navigate(ts.URL+p.path),
					chromedp.WaitVisible(chromedp.CSS("main")),
				)
				if err != nil {
					t.Fatal(err)
				}
				text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
				if err != nil {
					t.Fatal(err)
				}
				problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](pageChecks))
				if err != nil {
					t.Fatal(err)
				}
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range p.want {
					if !strings.Contains(text, w) {
						t.Errorf("the page does not show %q", w)
					}
				}
				for _, pr := range problems {
					t.Error(pr)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", p.name, width)), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			})
		}
	}

	// A staff action through the page's own form: the browser sends the
	// token and its own origin, and the reply is released.
	t.Run("release", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(420, 900),
			chromedp.Navigate(fmt.Sprintf("%s/replies/%d", ts.URL, heldID)),
			chromedp.Click(chromedp.CSS(`form[action$="/release"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".done")),
		)
		if err != nil {
			t.Fatal(err)
		}
		done, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".done")))
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.st.Reply(context.Background(), heldID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(done, "released") || r.Status != store.OutboxQueued {
			t.Errorf("after the click: %q, reply %s", done, r.Status)
		}
	})

	// A question answered through its page's form, with a note typed in.
	t.Run("answer", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(420, 900),
			chromedp.Navigate(fmt.Sprintf("%s/questions/%d", ts.URL, qID)),
			chromedp.SendKeys(chromedp.CSS("#answer-note"), "Answered by phone: vacant positions are included."),
			chromedp.Click(chromedp.CSS(`form[action$="/answer"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".done")),
		)
		if err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		q, err := f.st.Question(context.Background(), qID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "marked answered") || !strings.Contains(text, admin+": Answered by phone") || q.Open() || q.AnsweredBy != admin {
			t.Errorf("after the click: question %+v, page:\n%s", q, text)
		}
	})

	// Sorting by a column's header link.
	t.Run("sort", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(ts.URL+"/submissions"),
			chromedp.Click(chromedp.CSS(`th a[href*="sort=receipt"]`)),
			chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("tbody tr td a")))
		if err != nil {
			t.Fatal(err)
		}
		if first != "TST-1" {
			t.Errorf("first by receipt: %q", first)
		}
	})
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }
