package main

import (
	"fmt"

	"intake/parser"
	"intake/parser/email"
)

// LimitsConfig raises or lowers what one submission may cost to read; a
// setting left out (or 0) keeps its default (parser.DefaultLimits and
// email.DefaultLimits, listed in the README).
type LimitsConfig struct {
	MaxFileMB        int64 `yaml:"max_file_mb"`        // one attachment, as sent (default 25)
	MaxAttachmentsMB int64 `yaml:"max_attachments_mb"` // all attachments of a mail together (default 50)
	MaxUnzippedMB    int64 `yaml:"max_unzipped_mb"`    // a workbook unpacked (default 256)
	MaxRows          int   `yaml:"max_rows"`           // data rows per sheet (default 200,000)
	MaxCells         int64 `yaml:"max_cells"`          // filled cells of a submission (default 20,000,000)
}

// parser is the per-submission limits the daemon checks with.
func (l LimitsConfig) parser() parser.Limits {
	p := parser.DefaultLimits()
	set(&p.MaxFileBytes, l.MaxFileMB<<20)
	set(&p.MaxUnzippedBytes, l.MaxUnzippedMB<<20)
	set(&p.MaxRows, l.MaxRows)
	set(&p.MaxCells, l.MaxCells)
	return p
}

// email is the MIME limits: an attachment larger than max_file_mb is not
// decoded at all.
func (l LimitsConfig) email() email.Limits {
	e := email.DefaultLimits()
	set(&e.MaxPartBytes, l.MaxFileMB<<20)
	set(&e.MaxAttachmentsBytes, l.MaxAttachmentsMB<<20)
	return e
}

func set[T int | int64](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

func (l LimitsConfig) validate() []error {
	var errs []error
	for _, s := range []struct {
		name string
		v    int64
	}{{"max_file_mb", l.MaxFileMB}, {"max_attachments_mb", l.MaxAttachmentsMB}, {"max_unzipped_mb", l.MaxUnzippedMB},
		{"max_rows", int64(l.MaxRows)}, {"max_cells", l.MaxCells}} {
		if s.v < 0 {
			errs = append(errs, fmt.Errorf("limits.%s: %d is negative (0 or left out keeps the default)", s.name, s.v))
		}
	}
	if e := l.email(); e.MaxAttachmentsBytes < e.MaxPartBytes {
		errs = append(errs, fmt.Errorf("limits.max_attachments_mb: %d MB is less than one attachment may be (max_file_mb %d MB)",
			e.MaxAttachmentsBytes>>20, e.MaxPartBytes>>20))
	}
	return errs
}
