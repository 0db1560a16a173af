package integration_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"intake/intake"
	"intake/intake/localmail"
	"intake/internal/testenv"
	"intake/parser/parsertest"
)

// dovecotCaps is what Dovecot 2.3 advertises after login; each quirk
// leaves something out of it (imap_capability).
var dovecotCaps = strings.Fields("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES " +
	"THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED " +
	"I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY " +
	"PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE")

func capsWithout(drop ...string) string {
	return strings.Join(slices.DeleteFunc(slices.Clone(dovecotCaps), func(c string) bool { return slices.Contains(drop, c) }), " ")
}

// The daemon against Dovecot servers that lack what it prefers: each mail
// is answered once and filed, by the means the server offers.
func TestDovecotQuirks(t *testing.T) {
	for _, q := range []struct {
		name  string
		drop  []string
		check func(t *testing.T, dc *dovecot, bot, log string)
	}{
		{"no_move", []string{"MOVE"}, func(t *testing.T, dc *dovecot, bot, _ string) {
			// COPY, \Deleted and UID EXPUNGE (UIDPLUS): the originals are gone.
			waitFor(t, 30*time.Second, "INBOX emptied", func() bool { return inboxLeft(t, dc, bot) == [2]int{0, 0} })
		}},
		{"no_uidplus", []string{"UIDPLUS"}, func(t *testing.T, dc *dovecot, bot, _ string) {
			waitFor(t, 30*time.Second, "INBOX emptied by MOVE", func() bool { return inboxLeft(t, dc, bot) == [2]int{0, 0} })
		}},
		{"no_move_no_uidplus", []string{"MOVE", "UIDPLUS"}, func(t *testing.T, dc *dovecot, bot, _ string) {
			// Only a plain EXPUNGE would remove them, and it would remove
			// what others marked \Deleted too: the originals stay, marked.
			if got := inboxLeft(t, dc, bot); got != [2]int{2, 2} {
				t.Errorf("INBOX holds %d messages, %d marked \\Deleted; want 2, 2 (copied, marked, never expunged)", got[0], got[1])
			}
		}},
		{"no_idle", []string{"IDLE"}, func(t *testing.T, dc *dovecot, bot, log string) {
			if !strings.Contains(log, "idle=false") || strings.Contains(log, "idle=true") {
				t.Error("the daemon did not see that IDLE is not offered (it must poll)")
			}
		}},
	} {
		t.Run(q.name, func(t *testing.T) {
			bot := "quirk-" + strings.ReplaceAll(q.name, "_", "-") + "@opm.gov"
			dc := startDovecotWith(t, dovecotOptions{Users: []string{bot}, Capability: capsWithout(q.drop...)})
			// The server really leaves them out.
			c := dc.login(t, bot)
			for _, capName := range q.drop {
				if c.Caps().Has(imap.Cap(capName)) {
					t.Fatalf("Dovecot still advertises %s", capName)
				}
			}
			c.Close()
			var log testenv.SyncBuffer
			smtpSrv := runQuirkDaemon(t, dc, bot, &log)
			dc.appendMail(t, bot, submission{from: "chco@dhs.gov", to: bot, subject: "SES report", messageID: "one-" + q.name + "@dhs.gov",
				file: "r.xlsx", data: parsertest.SESWorkbook(t, parsertest.GoodPositions(), nil)}.bytes(t))
			dc.appendMail(t, bot, submission{from: "chco@dhs.gov", to: bot, subject: "SES report v2", messageID: "two-" + q.name + "@dhs.gov",
				file: "r.xlsx", data: parsertest.SESWorkbook(t, parsertest.GoodPositions()[:1], nil)}.bytes(t))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := smtpSrv.Wait(ctx, 2); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "both filed in Accepted", func() bool {
				c := dc.login(t, bot)
				defer c.Close()
				return imapCount(c, "Accepted") == 2
			})
			q.check(t, dc, bot, log.String())
			if n := len(smtpSrv.Messages()); n != 2 {
				t.Errorf("%d replies, want 2", n)
			}
		})
	}
}

// inboxLeft returns how many messages the INBOX holds, and how many of
// them are marked \Deleted.
func inboxLeft(t *testing.T, dc *dovecot, bot string) [2]int {
	c := dc.login(t, bot)
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	all, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	del, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return [2]int{len(all.AllUIDs()), len(del.AllUIDs())}
}

// runQuirkDaemon runs the daemon on bot's mailbox (password sign-in),
// replies to an in-process SMTP server, its log also to w.
func runQuirkDaemon(t *testing.T, dc *dovecot, bot string, w io.Writer) *localmail.SMTPServer {
	t.Helper()
	smtpSrv, err := localmail.StartSMTP(localmail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpSrv.Close() })
	d, _ := newInProcess(t, dc, smtpSrv.Addr, bot, "none", func(o *intake.Options) {
		appendedMail(o)
		o.PollInterval = 300 * time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(tlogWriter{t}, w), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	runUntilCleanup(t, d)
	return smtpSrv
}
