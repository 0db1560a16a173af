// Command intake is the robot clerk of a data-call mailbox: `intake run`
// answers the mailbox; the other subcommands serve OPM staff and agencies.
// See `intake help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"
	"time"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand gets: its output streams. stdout and
// stderr escape what a terminal would act on (termWriter); rawStdout is
// stdout as it is, for a file written there (intake export).
type env struct {
	stdout, stderr io.Writer
	rawStdout      io.Writer
	rawStderr      io.Writer        // stderr as it is (import's progress bar, on a terminal)
	stdin          io.Reader        // nil: none (hash-password reads a password from it)
	now            func() time.Time // nil: time.Now (the demo passes its clock)
	help           bool             // the arguments ask for the command's help: it goes to stdout
}

var errUsage = errors.New("usage")

func commands() map[string]command {
	return map[string]command{
		"run":      {"answer the mailbox: fetch, check, store, reply (the daemon)", cmdRun},
		"serve":    {"serve the staff dashboard and JSON API only", cmdServe},
		"demo":     {"the whole job on in-process IMAP and SMTP servers with sample submissions", cmdDemo},
		"template": {"write the blank official template: template CALL [KIND] -o FILE.xlsx", cmdTemplate},
		"check":    {"check a workbook offline and print the findings: check FILE.xlsx [--call CALL]", cmdCheck},
		"calls":    {"list the data calls (built-in and from calls_dir), or refuse a wrong definition", cmdCalls},
		"status":   {"per call: which agencies submitted, are late, or are missing", cmdStatus},
		"list":     {"list submissions (or --messages: mail that was not a submission)", cmdList},
		"show":     {"show one submission: show RECEIPT", cmdShow},
		"export":   {"export records with provenance as CSV or XLSX", cmdExport},
		"replay":   {"process a stored message again: replay MESSAGE-ID", cmdReplay},
		"import":   {"run a backlog of mail through the pipeline: import FILE.mbox|DIR [--reply]", cmdImport},
		"question": {"questions from agencies: question list, question answer ID --note TEXT", cmdQuestion},
		"version":  {"print the version of this intake binary", cmdVersion},
		"backup":   {"write a consistent copy of the store while the daemon runs: backup FILE", cmdBackup},
		"purge":    {"purge raw mail that was not a submission past retention_days (--dry-run lists it)", cmdPurge},
		"audit":    {"audit verify: is the audit log untouched; audit list: who viewed or exported what", cmdAudit},

		"hash-password": {"print the bcrypt hash of a dashboard user's password (for web.users)", cmdHashPassword},
	}
}

// checkMemoryLimit is the soft limit of the Go heap of an `intake check`
// process. The check allocates about a gigabyte of short-lived row text
// per million rows while it holds a few megabytes (more only for a
// lookup's keys, 12 bytes a row); the limit keeps the heap near what is
// live instead of letting it double (GOGC), at a small cost in
// collections, so the process stays flat as rows grow. Set here, for the
// process only (tests call run in theirs); a GOMEMLIMIT set by the user
// wins.
const checkMemoryLimit = 32 << 20

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(checkMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(newTermWriter(os.Stderr), "intake:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; tests call it directly. `intake help`,
// `-h` and `COMMAND -h` print to stdout and succeed; no command, or an
// unknown one, prints the usage to stderr and is a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			if _, ok := cmds[args[1]]; ok {
				return run(ctx, []string{args[1], "-h"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "intake: unknown command %q\n\n", args[1])
			usage(stderr, cmds)
			return errUsage
		}
		usage(stdout, cmds)
		return nil
	case "-version", "--version":
		args = []string{"version"}
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "intake: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return errUsage
	}
	// What the commands print may hold text from mail (headers, bounce
	// diagnostics, file names, cells): a terminal must show it, not obey
	// it. export writes its own stdout: an XLSX file is binary.
	e := &env{stdout: newTermWriter(stdout), stderr: newTermWriter(stderr), rawStdout: stdout, rawStderr: stderr, stdin: os.Stdin,
		help: helpAsked(args[1:])}
	err := c.run(ctx, e, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil // the help was asked for, and printed to stdout
	}
	return err
}

// helpAsked reports whether a command's arguments ask for its help (before
// any "--").
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: intake COMMAND [flags]   (intake COMMAND -h for its flags)")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
}

// flags makes a subcommand's flag set; its errors go to stderr, the help
// asked for with -h to stdout.
func flags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := e.stderr
	if e.help {
		out = e.stdout
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: intake %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// cmdVersion prints the module version and the commit it was built from,
// as the Go toolchain recorded them in the binary.
func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "version", "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, versionString())
	return nil
}

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "intake (no build information)"
	}
	v := "intake " + bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev != "" {
		v += " commit " + rev[:min(len(rev), 12)] + modified
	}
	return v + " " + bi.GoVersion
}
