package email_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"intake/internal/testenv"
	"intake/parser/email"
)

// corpusResult is what the whole API made of one corpus file.
type corpusResult struct {
	err       error
	msg       *email.Message
	key       string
	autoReply string
	bounce    *email.Bounce
	isBounce  bool
	auth      email.AuthVerdict
}

// runAll puts raw through every entry point. A panic is returned as text.
func runAll(raw []byte) (res corpusResult, panicked string) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	res.key = email.DedupeKey(raw)
	res.msg, res.err = email.Parse(raw, email.DefaultLimits())
	res.bounce, res.isBounce = email.ParseBounce(res.msg, raw)
	if res.msg != nil {
		res.autoReply = email.AutoReplyReason(res.msg, []string{"allocation-management@opm.gov"})
		res.auth = email.Authenticate(res.msg, email.AuthPolicy{TrustedAuthServID: "mx.google.com"})
	}
	return res, ""
}

// TestCorpus puts every file of the shared e-mail corpus through Parse,
// DedupeKey, AutoReplyReason, ParseBounce and Authenticate: no panic, no
// hang (a per-file deadline), and specific known results for some files.
func TestCorpus(t *testing.T) {
	root := filepath.Join(testenv.Shared(t), "corpus", "email")
	if _, err := os.Stat(root); err != nil {
		testenv.Missing(t, "the e-mail corpus "+root)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 1000 {
		t.Fatalf("only %d corpus files found under %s", len(files), root)
	}
	const perFile = 10 * time.Second
	results := map[string]corpusResult{}
	counts := map[string]int{}
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		type outcome struct {
			res   corpusResult
			panic string
		}
		done := make(chan outcome, 1)
		go func() {
			r, pn := runAll(raw)
			done <- outcome{r, pn}
		}()
		var o outcome
		select {
		case o = <-done:
		case <-time.After(perFile):
			t.Fatalf("%s: no result within %v (hang)", rel, perFile)
		}
		if o.panic != "" {
			t.Errorf("%s: panic: %s", rel, o.panic)
			continue
		}
		results[filepath.ToSlash(rel)] = o.res
		switch {
		case o.res.err != nil:
			counts["parse error"]++
		case len(o.res.msg.Problems) > 0:
			counts["parsed with problems"]++
		default:
			counts["parsed clean"]++
		}
		if o.res.msg != nil {
			counts["attachments"] += len(o.res.msg.Attachments)
			if o.res.autoReply != "" {
				counts["no auto-reply"]++
			}
			if o.res.auth.Pass && o.res.auth.Method != "" {
				counts["auth pass (mx.google.com)"]++
			}
		}
		if o.res.isBounce {
			counts["bounce"]++
			if o.res.bounce.ReplyMessageID != "" {
				counts["bounce with original id"]++
			}
		}
		// An Outlook .msg (OLE compound file) is not RFC 5322.
		if bytes.HasPrefix(raw, []byte{0xD0, 0xCF, 0x11, 0xE0}) && o.res.err == nil {
			t.Errorf("%s: OLE compound file parsed as a message", rel)
		}
		if strings.HasPrefix(filepath.ToSlash(rel), "poi-outlook-msg/") && o.res.err == nil && o.res.msg.From != "" {
			t.Errorf("%s: Outlook .msg gave a sender %q", rel, o.res.msg.From)
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-28s %d", k, counts[k])
	}
	t.Logf("%-28s %d", "files", len(files))

	get := func(rel string) corpusResult {
		t.Helper()
		r, ok := results[rel]
		if !ok {
			t.Fatalf("corpus file %s missing", rel)
		}
		if r.err != nil {
			t.Fatalf("%s: %v", rel, r.err)
		}
		return r
	}

	// RFC 3834 auto-replies (vacation notices from several servers) must
	// never be answered.
	for _, dir := range []string{"bsd", "dos", "mac"} {
		for i := 1; i <= 6; i++ {
			rel := fmt.Sprintf("sisimai/maildir/%s/rfc3834-%02d.eml", dir, i)
			if _, ok := results[rel]; !ok {
				continue
			}
			if r := get(rel); r.autoReply == "" {
				t.Errorf("%s: auto-reply not detected", rel)
			}
		}
	}

	// sisimai's "not a bounce" samples: an ordinary mail, and one carrying
	// an attached original message.
	for _, rel := range []string{"sisimai/maildir/not/is-not-bounce-01.eml", "sisimai/maildir/not/is-not-bounce-02.eml"} {
		r := get(rel)
		if r.isBounce {
			t.Errorf("%s: taken for a bounce: %+v", rel, r.bounce)
		}
		if r.autoReply != "" {
			t.Errorf("%s: reply refused: %s", rel, r.autoReply)
		}
	}
	if r := get("sisimai/maildir/not/is-not-bounce-01.eml"); r.msg.Subject != "にゃんこ" || r.msg.Text == "" {
		t.Errorf("is-not-bounce-01: subject %q text %q", r.msg.Subject, r.msg.Text)
	}
	// A non-standard bounce sisimai once missed (its issue 368): from
	// postmaster, Return-Path <>, the original inline after "bounced E-Mail:".
	r := get("sisimai/maildir/not/rb-issue-368-bug.eml")
	if r.autoReply == "" {
		t.Error("rb-issue-368-bug: auto-reply allowed to a postmaster notification")
	}
	if !r.isBounce || r.bounce.ReplyMessageID != "68e0b7e3615cd_1dc7010592ed@7cf4d87f87-9r5w2.mail" ||
		r.bounce.Recipient != "xxxx@yyyyyy.net" || !r.bounce.Permanent {
		t.Errorf("rb-issue-368-bug: bounce %v %+v", r.isBounce, r.bounce)
	}

	// A standard DSN: status, recipient and the returned message's id.
	r = get("sisimai/maildir/bsd/rfc3464-01.eml")
	if !r.isBounce || r.bounce.Status != "5.1.1" || r.bounce.Recipient != "userunknown@bouncehammer.jp" ||
		r.bounce.ReplyMessageID == "" || !r.bounce.Permanent {
		t.Errorf("rfc3464-01: bounce %v %+v", r.isBounce, r.bounce)
	}

	// Bounces of many MTAs (sisimai's lhost-* and rfc3464 samples, flufl's
	// DSNs and qmail/postfix/exim bounces) are recognised as bounces.
	recognised, total := 0, 0
	for rel, r := range results {
		base := filepath.Base(rel)
		if !(strings.HasPrefix(rel, "sisimai/maildir/bsd/") && (strings.HasPrefix(base, "lhost-") || strings.HasPrefix(base, "rfc3464-"))) &&
			!(strings.HasPrefix(rel, "flufl-bounce/") && (strings.HasPrefix(base, "dsn_") || strings.HasPrefix(base, "postfix_") || strings.HasPrefix(base, "qmail_") || strings.HasPrefix(base, "exim_"))) {
			continue
		}
		total++
		if r.isBounce {
			recognised++
		} else {
			t.Logf("bounce not recognised: %s", rel)
		}
	}
	t.Logf("bounces recognised: %d of %d", recognised, total)
	if total == 0 || recognised*100 < total*85 {
		t.Errorf("bounces recognised: %d of %d, want at least 85%%", recognised, total)
	}
	for _, rel := range []string{"flufl-bounce/dsn_01.txt", "flufl-bounce/qmail_01.txt", "flufl-bounce/postfix_01.txt"} {
		if r := get(rel); !r.isBounce {
			t.Errorf("%s: bounce not recognised", rel)
		}
	}
}
