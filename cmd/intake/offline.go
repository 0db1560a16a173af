package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"intake/parser"
	"intake/workbook"
)

func cmdTemplate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "template", "CALL [KIND] -o FILE.xlsx")
	out := fs.String("o", "", "output file (.xlsx)")
	dir := fs.String("calls", "", "directory of more data-call definitions")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || *out == "" {
		fs.Usage()
		return errUsage
	}
	calls, err := loadCalls(*dir)
	if err != nil {
		return err
	}
	def := calls.Get(fs.Arg(0))
	if def == nil {
		return fmt.Errorf("no data call %q (see `intake calls`)", fs.Arg(0))
	}
	var data []byte
	if fs.NArg() == 2 {
		data, err = workbook.Template(def, fs.Arg(1))
	} else {
		data, err = workbook.TemplateAll(def)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes)\n", *out, len(data))
	return nil
}

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "check", "FILE.xlsx... [--call CALL] [--agency CODE] [--reference DIR] [--annotate OUT.xlsx] [--password-file F]")
	callID := fs.String("call", "", "data call (default: recognised from the workbook)")
	agency := fs.String("agency", "", "agency code of the sender")
	refDir := fs.String("reference", "", "reference data directory (agency codes, pay plans)")
	dir := fs.String("calls", "", "directory of more data-call definitions")
	lim := parser.DefaultLimits()
	maxFileMB := fs.Int64("max-file-mb", lim.MaxFileBytes>>20, "largest workbook read, in MiB (the mailbox's limit by default)")
	maxUnzippedMB := fs.Int64("max-unzipped-mb", lim.MaxUnzippedBytes>>20, "largest workbook read once unpacked, in MiB (the mailbox's limit by default)")
	annotate := fs.String("annotate", "", "write the annotated copy of the workbook (as a deficiency notice attaches it) to this file")
	pwFile := fs.String("password-file", "", "file holding the password of encrypted workbooks (its first line; never on the command line)")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 || (*annotate != "" && fs.NArg() != 1) {
		fs.Usage()
		return errUsage
	}
	lim.MaxFileBytes, lim.MaxUnzippedBytes = *maxFileMB<<20, *maxUnzippedMB<<20
	calls, err := loadCalls(*dir)
	if err != nil {
		return err
	}
	ref, err := loadReference(*refDir)
	if err != nil {
		return err
	}
	// Files are read through their handles, never whole into memory.
	var files []parser.Input
	for _, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		files = append(files, parser.Input{Name: filepath.Base(p), File: f, Size: st.Size()})
	}
	password := ""
	if *pwFile != "" {
		if password, err = readPasswordFile(*pwFile); err != nil {
			return err
		}
	}
	dec := parser.DecryptInputs(files, password, lim)
	files = dec.Files
	if *annotate != "" && dec.Encrypted > 0 {
		// The copy would hold the agency's data unencrypted.
		return errors.New("--annotate is not offered for an encrypted workbook")
	}
	var def *parser.Definition
	if *callID != "" {
		if def = calls.Get(*callID); def == nil {
			return fmt.Errorf("no data call %q (see `intake calls`)", *callID)
		}
	} else if def, _ = calls.Route(parser.RouteInput{Files: files}); def == nil && len(dec.Findings) > 0 {
		printFindings(e, dec.Findings)
		return fmt.Errorf("%d problem(s): the encrypted workbook could not be opened", len(dec.Findings))
	} else if def == nil {
		return fmt.Errorf("the workbook matches no data call: name one with --call (see `intake calls`)")
	}
	// Rows stream through and are only counted: memory stays flat
	// however large the workbook (see checkMemoryLimit).
	rows := 0
	sub, err := parser.CheckStream(ctx, def, files, parser.Context{Now: time.Now(), Agency: *agency, Ref: ref, Limits: lim},
		func(*parser.Row) error { rows++; return nil })
	if err != nil {
		return err
	}
	dec.AsReceived(&sub)
	sub.Findings = append(dec.Findings, sub.Findings...)
	printCheck(e, def, sub)
	fmt.Fprintf(e.stdout, "%d data rows checked.\n", rows)
	if *annotate != "" {
		// The copy is made from the file's bytes (at most the mailbox's
		// file size limit), in bounded memory however many rows it has.
		in := files[0]
		if in.Data, err = os.ReadFile(fs.Arg(0)); err != nil {
			return err
		}
		in.File = nil
		data, err := workbook.Annotate(ctx, in, sub.Findings, workbook.Options{})
		if err != nil {
			return err
		}
		if err := os.WriteFile(*annotate, data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Annotated copy: %s\n", *annotate)
	}
	if sub.Deficient() {
		return fmt.Errorf("%d problem(s): the submission would get a deficiency notice", countErrors(sub.Findings))
	}
	return nil
}

func printCheck(e *env, def *parser.Definition, sub parser.Submission) {
	fmt.Fprintf(e.stdout, "Data call: %s (%s)\n", def.Title, def.ID)
	for _, f := range sub.Files {
		fmt.Fprintf(e.stdout, "File: %s (%d bytes)\n  sha256 %s\n", fit(f.Name, maxWidth-24), f.Size, f.SHA256)
		for _, s := range f.Sheets {
			kind := s.Kind
			if kind == "" {
				kind = "(not read: matches no kind)"
			}
			fmt.Fprintf(e.stdout, "  sheet %q: %s, %d rows\n", s.Name, kind, s.Rows)
		}
	}
	fmt.Fprintf(e.stdout, "Records: %s\n", recordCounts(sub.Counts()))
	if len(sub.Findings) == 0 {
		fmt.Fprintln(e.stdout, "No problems found: the submission would be accepted.")
		return
	}
	// Each finding in full, wrapped to the terminal's usual width: where,
	// then what is wrong, then how to fix it.
	fmt.Fprintf(e.stdout, "\nFindings (%d):\n", len(sub.Findings))
	for _, f := range sub.Findings {
		cell := f.Cell()
		if cell == "" && f.Row > 0 {
			cell = fmt.Sprintf("row %d", f.Row)
		}
		wrap(e.stdout, "  ", strings.Join(nonEmpty(f.Severity, oneLine(f.File), oneLine(f.Sheet), cell, oneLine(f.Column)), "  "))
		wrap(e.stdout, "      ", f.Message)
		if f.Fix != "" {
			wrap(e.stdout, "      ", "Fix: "+f.Fix)
		}
		if f.Cite != "" {
			wrap(e.stdout, "      ", "Authority: "+f.Cite)
		}
	}
}

func countErrors(fs []parser.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity != parser.SeverityWarning {
			n++
		}
	}
	return n
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cmdCalls(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "calls", "[--calls DIR] [--config FILE]")
	dir := fs.String("calls", "", "directory of more data-call definitions (default: the configuration's calls_dir)")
	config := fs.String("config", "", "configuration file (default intake.yaml when present): its calls_dir")
	fs.String("store", "", "accepted as by every staff command; the calls are not in the store")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		path := *config
		if _, err := os.Stat("intake.yaml"); path == "" && err == nil {
			path = "intake.yaml"
		}
		if path != "" {
			cfg, err := LoadConfig(path)
			if err != nil {
				return err
			}
			*dir = cfg.CallsDir
		}
	}
	calls, err := loadCalls(*dir)
	if err != nil {
		return err
	}
	// A block per call: its lines fit a terminal, the title in full.
	for i, d := range calls.All() {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		var kinds []string
		for _, k := range d.Kinds {
			kinds = append(kinds, k.ID)
		}
		deadline := "due " + d.Deadline.Date
		if d.Deadline.Weekly != nil {
			deadline = fmt.Sprintf("due %ss, %s to %s", d.Deadline.Weekly.Weekday, d.Deadline.Weekly.Start, d.Deadline.Weekly.Until)
		}
		fmt.Fprintf(e.stdout, "%s  %s\n", d.ID, deadline)
		wrap(e.stdout, "  ", d.Title)
		wrap(e.stdout, "  ", "kinds: "+strings.Join(kinds, ", "))
	}
	return nil
}

// parseInterspersed parses flags that may come after the positional
// arguments (`check FILE --call X`), which the flag package alone does not.
func parseInterspersed(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseOneArg parses flags and the one positional argument a command takes
// (anywhere among the flags); without exactly one it prints the usage and
// is a usage error.
func parseOneArg(fs *flag.FlagSet, args []string) error {
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	return nil
}

// readPasswordFile reads a workbook's password: the file's first line,
// without its line ending (an editor's trailing newline is not part of it).
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("password file %s: empty first line", path)
	}
	return line, nil
}

// printFindings prints findings that belong to no data call (a workbook
// that could not be opened).
func printFindings(e *env, fs []parser.Finding) {
	for _, f := range fs {
		fmt.Fprintf(e.stdout, "%s  %s: %s\n    Fix: %s\n", strings.ToUpper(f.Severity), oneLine(f.File), oneLine(f.Message), oneLine(f.Fix))
	}
}
