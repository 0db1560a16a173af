package store

import (
	"os"
	"path/filepath"
)

// AuditHash lets the tests forge an entry as someone who knows the
// formula would, to show that the chain still gives them away.
var AuditHash = auditHash

// SpoolFileInfo describes the spool's open file (for tests).
func SpoolFileInfo(sp *Spool) (os.FileInfo, error) { return sp.f.Stat() }

// SpoolDir is the directory the spool's file was made in (for tests).
func SpoolDir(sp *Spool) string { return filepath.Dir(sp.f.Name()) }
