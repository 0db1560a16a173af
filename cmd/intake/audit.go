package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"intake/intake/web"
	"intake/store"
)

// osUser is who runs a command, for the audit log.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// repeated is a flag given any number of times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func cmdAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "list") {
		fmt.Fprintln(e.stderr, "usage: intake audit verify [--head ID:HASH]... | intake audit list [--user U] [--call C] [--action A] [--since DATE] [--limit N]   (--config FILE | --store FILE)")
		return errUsage
	}
	if args[0] == "verify" {
		return auditVerify(ctx, e, args[1:])
	}
	return auditList(ctx, e, args[1:])
}

func auditVerify(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "audit verify", "[--head ID:HASH]... [--config FILE | --store FILE]")
	config, storePath := staffFlags(fs)
	var heads repeated
	fs.Var(&heads, "head", "a head printed by an earlier verify, kept outside the store: it must still be in the log (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var known []store.AuditHead
	for _, h := range heads {
		k, err := store.ParseAuditHead(h)
		if err != nil {
			return err
		}
		known = append(known, k)
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.store.VerifyAudit(ctx, known...)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintln(e.stdout, "TAMPERED:", p)
		}
		return fmt.Errorf("audit: the log of %s was tampered with (%d entries read)", a.cfg.Store, rep.Entries)
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d entries", rep.Entries)
	if rep.Entries > 0 {
		fmt.Fprintf(e.stdout, ", head %s\nKeep the head outside this machine; `intake audit verify --head %s` later shows the log was not rewritten up to it.", rep.Head, rep.Head)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func auditList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "audit list", "[--user U] [--call C] [--action view|download|export] [--since YYYY-MM-DD] [--limit N] [--config FILE | --store FILE]")
	config, storePath := staffFlags(fs)
	var f store.AuditFilter
	fs.StringVar(&f.User, "user", "", "only this user's entries")
	fs.StringVar(&f.Call, "call", "", "only entries of this data call")
	fs.StringVar(&f.Action, "action", "", "only this action")
	since := fs.String("since", "", "only entries from this day (YYYY-MM-DD, UTC) on")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many, newest first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *since != "" {
		t, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			return fmt.Errorf("audit list: --since %q: want YYYY-MM-DD", *since)
		}
		f.Since = t
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	es, err := a.store.AuditEntries(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tUSER\tVIA\tACTION\tCALL\tWHAT\tDETAIL")
	for _, x := range es {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.At.UTC().Format(time.DateTime), printable(x.User),
			x.Via, x.Action, x.Call, printable(x.Object), printable(x.Detail))
	}
	return tw.Flush()
}

// printable is s on one line with control characters escaped: what the
// audit log holds came partly from senders (file names).
func printable(s string) string {
	q := strconv.QuoteToGraphic(oneLine(s))
	return q[1 : len(q)-1]
}

func cmdHashPassword(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "hash-password", "[--cost N]  (reads the password from the terminal, or one line from standard input)")
	cost := fs.Int("cost", web.DefaultCost, "bcrypt cost: each step doubles the time a guess takes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	h, err := web.HashPassword(pw, *cost)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, h)
	return nil
}

// readPassword reads a password without echo from a terminal, else the
// first line of standard input.
func readPassword(e *env) (string, error) {
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprint(e.stderr, "Password: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("hash-password: %w", err)
		}
		return string(b), nil
	}
	return readLine(e.stdin)
}

func readLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("hash-password: no standard input")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("hash-password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("hash-password: empty password")
	}
	return line, nil
}
