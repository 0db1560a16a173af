package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"intake/intake/export"
	"intake/parser"
	"intake/store"
)

// staffFlags are the flags of the staff commands: a configuration file,
// or just the store.
func staffFlags(fs *flag.FlagSet) (config, storePath *string) {
	config = fs.String("config", "", "configuration file (default intake.yaml when present)")
	storePath = fs.String("store", "", "SQLite store (overrides the configuration's)")
	return
}

// loadStaffConfig loads the configuration for a staff command; without
// one (and without intake.yaml) it is the defaults with the given store.
func loadStaffConfig(config, storePath string) (*Config, error) {
	if config == "" {
		if _, err := os.Stat("intake.yaml"); err == nil {
			config = "intake.yaml"
		}
	}
	cfg := &Config{From: "intake@localhost"}
	if config != "" {
		c, err := LoadConfig(config)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		cfg.applyDefaults()
	}
	if storePath != "" {
		cfg.Store = storePath
	}
	return cfg, nil
}

// staffConfig is loadStaffConfig for a command that reads the store: it
// must exist.
func staffConfig(config, storePath string) (*Config, error) {
	cfg, err := loadStaffConfig(config, storePath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Store); err != nil {
		return nil, fmt.Errorf("store %s: %w (name it with --store or --config)", cfg.Store, err)
	}
	return cfg, nil
}

// openStaff opens what a staff command reads: the configuration (or the
// defaults), the data calls and the store, read-only: these commands never
// migrate it and work on a store file they may only read.
func openStaff(ctx context.Context, e *env, config, storePath string) (*app, error) {
	cfg, err := staffConfig(config, storePath)
	if err != nil {
		return nil, err
	}
	return openAppMode(ctx, e, cfg, true)
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "status", "[--call CALL] [--period P] [--agency A] [--config FILE] [--store FILE]")
	config, storePath := staffFlags(fs)
	callID := fs.String("call", "", "only this data call")
	period := fs.String("period", "", "reporting period of a weekly call, e.g. 2025-W12 (default: the current and the last one due)")
	agency := fs.String("agency", "", "only agencies whose code or name contains this (any case)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	defs, err := a.callsNamed(*callID)
	if err != nil {
		return err
	}
	var only []string
	if *agency != "" {
		if only, err = a.agencyCodes(ctx, *agency); err != nil {
			return err
		}
	}
	if *period != "" {
		for _, def := range defs {
			if _, ok := def.PeriodDue(*period); !ok || def.Deadline.Weekly == nil {
				return fmt.Errorf("data call %s has no period %q (a weekly call's periods read like 2025-W12)", def.ID, *period)
			}
		}
	}
	now := e.clock()
	msgs, outbox, err := a.store.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Messages: %s\nReplies:  %s\n\n", counts(msgs), counts(outbox))
	expected := configuredCodes(a)
	for _, def := range defs {
		periods := def.StatusPeriods(now)
		if *period != "" {
			periods = []string{*period}
		}
		for _, p := range periods {
			attempts, err := a.store.Attempts(ctx, def.ID, p)
			if err != nil {
				return err
			}
			printStatus(e.stdout, def, parser.Status(def, p, def.Expected(expected), attempts, now), only)
		}
	}
	return nil
}

// configuredCodes are the configured agencies' codes, which a call that
// names none expects answers from.
func configuredCodes(a *app) []string {
	codes := make([]string, 0, len(a.agencies))
	for _, ag := range a.agencies {
		codes = append(codes, ag.Code)
	}
	return codes
}

// printStatus prints one period's status: a heading with the counts,
// then a line per agency (only those in only, when given), each under
// maxWidth columns.
func printStatus(w io.Writer, def *parser.Definition, ps parser.PeriodStatus, only []string) {
	head := fit(def.Title, 60) + " (" + def.ID + ")"
	if ps.Period != "" {
		head += ", period " + ps.Period
	}
	fmt.Fprintln(w, head)
	if !ps.Due.IsZero() {
		fmt.Fprintf(w, "Due %s%s\n", ps.Due.Format("2 Jan 2006 15:04 MST"), map[bool]string{true: " (deadline passed)"}[ps.PastDue])
	}
	fmt.Fprintf(w, "Expected %d: accepted %d (late %d, newest deficient %d), deficient %d, missing %d\n",
		ps.Expected, ps.Accepted, ps.Late, ps.DeficientLatest, ps.Deficient, ps.Missing)
	t := &table{indent: "  ", head: []string{"AGENCY", "STATE", "RECEIPT", "VER", "TIMELINESS", "LAST", "SENT", "NOTE"}, flex: 7}
	for _, ag := range ps.Agencies {
		if only != nil && !slices.Contains(only, ag.Agency) {
			continue
		}
		state := ag.State
		if state == parser.StateMissing {
			state = "MISSING"
		}
		when := ""
		if !ag.LastAt.IsZero() {
			when = ag.LastAt.Format("2006-01-02 15:04")
		}
		tl := ""
		switch {
		case ag.Overdue:
			tl = "overdue"
		case ag.Receipt != "":
			tl = timeliness(ag.Late)
		}
		var notes []string
		if !ag.Expected {
			notes = append(notes, "not expected")
		}
		if ag.DeficientLatest {
			notes = append(notes, "newest deficient")
		}
		for _, at := range ag.Attempts {
			if at.State == parser.AttemptSupersededPartly {
				notes = append(notes, fmt.Sprintf("part of v%d in force", at.Version))
			}
		}
		for _, k := range ag.Kinds {
			if ag.State == parser.StateAccepted && k.State == parser.StateMissing && !k.Optional {
				notes = append(notes, "lacks "+k.Kind)
			}
		}
		t.add(ag.Agency, state, ag.Receipt, versionText(ag.Version), tl, when, strconv.Itoa(ag.Submissions), strings.Join(notes, "; "))
	}
	t.print(w)
	fmt.Fprintln(w)
}

func versionText(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

func timeliness(late bool) string {
	if late {
		return "late"
	}
	return "on time"
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func cmdList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "list", "[--call C] [--agency A] [--state S] [--limit N] [--offset N] | list --messages [--status S]")
	config, storePath := staffFlags(fs)
	callID := fs.String("call", "", "only this data call")
	agency := fs.String("agency", "", "only agencies whose code, name or mail domain contains this (any case), or their initials (DHS)")
	state := fs.String("state", "", "only submissions in this state: "+strings.Join(store.SubmissionStates, ", "))
	messages := fs.Bool("messages", false, "list stored mail instead (quarantined, rejected, ignored, bounces ...)")
	status := fs.String("status", "", "with --messages: only this status: "+strings.Join(store.MessageStatuses, ", "))
	limit := fs.Int("limit", 50, "at most this many (0: all)")
	offset := fs.Int("offset", 0, "skip this many of the newest first")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *limit < 0 || *offset < 0 {
		return fmt.Errorf("list: --limit and --offset cannot be negative")
	}
	if *state != "" && !slices.Contains(store.SubmissionStates, *state) {
		return fmt.Errorf("list: no state %q (the states are %s)", *state, strings.Join(store.SubmissionStates, ", "))
	}
	if *status != "" && !slices.Contains(store.MessageStatuses, *status) {
		return fmt.Errorf("list: no message status %q (the statuses are %s)", *status, strings.Join(store.MessageStatuses, ", "))
	}
	if *messages && (*callID != "" || *agency != "" || *state != "") {
		return fmt.Errorf("list: --messages takes --status, not --call, --agency or --state")
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.store
	if *messages {
		f := store.MessageFilter{Status: *status, Limit: *limit, Offset: *offset}
		total, err := st.CountMessages(ctx, f)
		if err != nil {
			return err
		}
		ms, err := st.Messages(ctx, f)
		if err != nil {
			return err
		}
		t := &table{head: []string{"ID", "RECEIVED", "STATUS", "FROM", "TRIES", "FOLDER", "NOTE"}, flex: 6}
		for _, m := range ms {
			t.add(strconv.FormatInt(m.ID, 10), m.ReceivedAt.Format("2006-01-02 15:04"), m.Status, fit(m.From, 30), strconv.Itoa(m.Attempts),
				fit(m.Folder, 12), firstNonEmpty(m.Note, m.LastError))
		}
		t.print(e.stdout)
		shown(e.stdout, len(ms), *offset, total)
		return nil
	}
	if *callID != "" && a.calls.Get(*callID) == nil {
		return unknownCall(a.calls, *callID)
	}
	f := store.ListFilter{Call: *callID, State: *state, Limit: *limit, Offset: *offset}
	if *agency != "" {
		if f.Agencies, err = a.agencyCodes(ctx, *agency); err != nil {
			return err
		}
	}
	total, err := st.CountSubmissions(ctx, f)
	if err != nil {
		return err
	}
	subs, err := st.Submissions(ctx, f)
	if err != nil {
		return err
	}
	states, err := attemptStates(ctx, a, subs)
	if err != nil {
		return err
	}
	t := &table{head: []string{"RECEIPT", "RECEIVED", "AGENCY", "STATE", "VER", "ROWS", "ERRS", "LATE", "SENDER"}, flex: 8}
	for _, s := range subs {
		late := ""
		if s.Late {
			late = "late"
		}
		t.add(s.Receipt, s.ReceivedAt.Format("2006-01-02 15:04"), s.Agency, firstNonEmpty(states[s.Receipt], s.State), versionText(s.Version),
			strconv.Itoa(s.Records), strconv.Itoa(s.Errors), late, s.Sender)
	}
	t.print(e.stdout)
	shown(e.stdout, len(subs), *offset, total)
	return nil
}

// shown says which of how many are listed, and how to see the next ones.
func shown(w io.Writer, n, offset, total int) {
	switch {
	case total == 0:
		fmt.Fprintln(w, "None.")
	case n == 0:
		fmt.Fprintf(w, "None shown: --offset %d is past the %d there are.\n", offset, total)
	case offset+n < total:
		fmt.Fprintf(w, "Shown %d-%d of %d; the next: --offset %d.\n", offset+1, offset+n, total, offset+n)
	default:
		fmt.Fprintf(w, "Shown %d-%d of %d.\n", offset+1, offset+n, total)
	}
}

// attemptStates says what became of each listed submission, by receipt,
// as parser.Status has it: a superseded version some of whose kinds are
// still in force is "superseded in part".
func attemptStates(ctx context.Context, a *app, subs []store.SubmissionSummary) (map[string]string, error) {
	type key struct{ call, period string }
	done := map[key]bool{}
	out := map[string]string{}
	for _, s := range subs {
		k := key{s.Call, s.Period}
		def := a.calls.Get(s.Call)
		if done[k] || def == nil || s.State != "superseded" {
			continue
		}
		done[k] = true
		attempts, err := a.store.Attempts(ctx, s.Call, s.Period)
		if err != nil {
			return nil, err
		}
		for _, ag := range parser.Status(def, s.Period, nil, attempts, time.Time{}).Agencies { // the time only decides overdue
			for _, at := range ag.Attempts {
				out[at.Receipt] = at.State
			}
		}
	}
	return out, nil
}

func cmdShow(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "show", "RECEIPT [--config FILE | --store FILE]")
	config, storePath := staffFlags(fs)
	if err := parseOneArg(fs, args); err != nil {
		return err
	}
	a, err := openStaff(ctx, e, *config, *storePath)
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.store
	d, err := st.SubmissionByReceipt(ctx, fs.Arg(0))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no submission with receipt %s", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	states, err := attemptStates(ctx, a, []store.SubmissionSummary{d.SubmissionSummary})
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "Receipt:   %s\nCall:      %s\nAgency:    %s\nSender:    %s\nReceived:  %s (%s)\nState:     %s, version %d\nMessage:   %s\n",
		d.Receipt, d.Call, d.Agency, oneLine(d.Sender), d.ReceivedAt.Format(time.RFC1123Z), timeliness(d.Late),
		firstNonEmpty(states[d.Receipt], d.State), d.Version, oneLine(d.MessageID))
	if d.Period != "" {
		fmt.Fprintf(w, "Period:    %s\n", d.Period)
	}
	for _, f := range d.Files {
		fmt.Fprintf(w, "File:      %s (%d bytes)\n           sha256 %s\n", oneLine(f.Name), f.Size, f.SHA256)
	}
	byKind := map[string]int{}
	for _, r := range d.Records {
		byKind[r.Kind]++
	}
	fmt.Fprintf(w, "Records:   %s\n", recordCounts(byKind))
	if len(d.Findings) > 0 {
		// The full text of each finding, wrapped.
		fmt.Fprintf(w, "\nFindings (%d):\n", len(d.Findings))
		for _, f := range d.Findings {
			wrap(w, "  ", strings.Join(nonEmpty(f.Severity, oneLine(f.File), oneLine(f.Sheet), firstNonEmpty(f.Cell(), rowRef(f.Row)), oneLine(f.Column)), "  "))
			wrap(w, "      ", f.Message)
			if f.Fix != "" {
				wrap(w, "      ", "Fix: "+f.Fix)
			}
		}
	}
	if len(d.Replies) > 0 {
		fmt.Fprintln(w, "\nReplies:")
		for _, r := range d.Replies {
			wrap(w, "  ", fmt.Sprintf("%s  %s  %s  attempts %d  %s", r.Kind, r.Status, oneLine(r.MessageID), r.Attempts, oneLine(r.LastError)))
		}
	}
	return nil
}

// recordCounts says how many records of each kind: "3 position-report,
// 1 retention-request", or "none".
func recordCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func rowRef(row int) string {
	if row == 0 {
		return ""
	}
	return "row " + strconv.Itoa(row)
}

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "export", "--call CALL [--kind KIND] [--format csv|xlsx] [--all-versions] [-o FILE]")
	config, storePath := staffFlags(fs)
	callID := fs.String("call", "", "data call to export (required)")
	kind := fs.String("kind", "", "only this attachment kind")
	format := fs.String("format", "csv", "csv or xlsx")
	all := fs.Bool("all-versions", false, "include superseded versions (default: current versions only)")
	out := fs.String("o", "", "output file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *callID == "" || (*format != "csv" && *format != "xlsx") {
		fs.Usage()
		return errUsage
	}
	// Unlike the other staff commands, export writes: every export of
	// records is entered in the audit log first, so it needs a store it
	// may write to.
	cfg, err := staffConfig(*config, *storePath)
	if err != nil {
		return err
	}
	a, err := openAppMode(ctx, e, cfg, false)
	if err != nil {
		return fmt.Errorf("export: every export is recorded in the store's audit log, so the store must be writable: %w", err)
	}
	defer a.Close()
	def := a.calls.Get(*callID)
	if def == nil {
		return fmt.Errorf("no data call %q", *callID)
	}
	if *kind != "" && def.Kind(*kind) == nil {
		return fmt.Errorf("data call %s has no kind %q", def.ID, *kind)
	}
	// The export is audited before any record is written, and not written
	// when it cannot be audited.
	versions := "current versions"
	if *all {
		versions = "all versions"
	}
	if _, err := a.store.Audit(ctx, store.AuditEntry{At: time.Now(), User: osUser(), Via: store.AuditViaCLI, Action: store.AuditExport,
		Call: def.ID, Object: strings.TrimSpace(*kind + " " + versions), Detail: "format " + *format + "; to " + firstNonEmpty(*out, "standard output")}); err != nil {
		return err
	}
	w := e.stdout // CSV: its control characters are dropped; the rest is escaped for a terminal
	if *format == "xlsx" {
		if isTerminal(e.rawStdout) && *out == "" {
			return errors.New("export: an XLSX file is binary: name a file with -o, or redirect standard output")
		}
		w = e.rawStdout
	}
	if *out != "" {
		// The records may hold PII: the file is the user's alone, even
		// when it existed before with a wider mode.
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Chmod(0o600); err != nil {
			return err
		}
		w = f
	}
	n, err := export.Write(ctx, w, a.store, export.Format(*format), export.Options{Call: def, Kind: *kind, CurrentOnly: !*all})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d records\n", n)
	return nil
}

func cmdReplay(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "replay", "MESSAGE-ID [--config FILE] [--store FILE]   (the number `intake list --messages` shows)")
	config, storePath := staffFlags(fs)
	if err := parseOneArg(fs, args); err != nil {
		return err
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("replay: %q is not a message number", fs.Arg(0))
	}
	// The agencies' allowlists decide the mail again: without a
	// configuration every sender would be refused.
	cfg, err := loadStaffConfig(*config, *storePath)
	if err != nil {
		return err
	}
	if len(cfg.Agencies) == 0 {
		return errors.New("replay: the configuration lists no agencies, so every sender would be refused; name it with --config")
	}
	a, d, err := openDaemon(ctx, e, cfg, "replay: intake run is running on %s; stop it first (replay decides the message in this process, and two processes must not decide one store's mail at once)")
	if err != nil {
		return err
	}
	defer a.Close()
	if err := d.Replay(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("replay: no message %d in the store (`intake list --messages` shows their numbers)", id)
		}
		return err
	}
	m, err := a.store.Message(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "message %d: %s %s\n", id, m.Status, oneLine(firstNonEmpty(m.Note, m.LastError)))
	if m.Status != store.StatusReceived {
		fmt.Fprintln(e.stdout, "its reply, if any, is queued: `intake run` sends it when it starts")
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
