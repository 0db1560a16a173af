// Package testenv holds what tests of every package need to know about
// their surroundings: whether they run in CI (where nothing may be
// skipped), and where the shared corpora and reference data are.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CI reports whether tests run under CI=true: there a missing server or
// corpus is a failure, never a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Root returns the module root (the directory holding go.mod).
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Shared returns the shared directory of corpora and reference data:
// $INTAKE_SHARED, or ../shared beside the module root. When it is absent
// the test is skipped with a message, except under CI, where it fails.
func Shared(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("INTAKE_SHARED")
	if dir == "" {
		dir = filepath.Join(Root(tb), "..", "shared")
	}
	if _, err := os.Stat(dir); err != nil {
		Missing(tb, "the shared corpora and reference data (set INTAKE_SHARED to their directory)")
	}
	return dir
}

// Missing skips the test because what is named is not available, or fails
// it under CI, where everything a test needs must be installed.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("missing under CI: %s", what)
	}
	tb.Skipf("skipped: %s is not available here (CI installs it)", what)
}

// LookPath returns the path of a program, or skips (fails under CI) when it
// is not installed.
func LookPath(tb testing.TB, program, hint string) string {
	tb.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(tb, program+" ("+hint+")")
	}
	return p
}

// BuildIntake builds cmd/intake into dir and returns the binary's path
// (the go build cache makes a second build cheap).
func BuildIntake(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "intake")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/intake")
	cmd.Dir = Root(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // go-sqlite3 needs cgo
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/intake: %v\n%s", err, out)
	}
	return bin
}
