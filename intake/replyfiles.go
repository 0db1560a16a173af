package intake

import (
	"context"
	"path"
	"strings"

	"intake/parser"
	"intake/reply"
	"intake/workbook"
)

// annotatedCopies makes the annotated copy of each .xlsx the agency sent
// that has findings inside it, for the deficiency notice to attach. None
// for a call that holds PII: its workbooks are not sent back by email. A
// workbook that cannot be annotated is left out (the notice lists its
// findings); only a cancelled ctx is an error.
func (d *Daemon) annotatedCopies(ctx context.Context, def *parser.Definition, files []parser.Input, fs []parser.Finding, message int64) ([]reply.Annotated, error) {
	if def.PII {
		return nil, nil
	}
	var out []reply.Annotated
	for _, f := range files {
		if !strings.EqualFold(path.Ext(f.Name), ".xlsx") || !pointsInside(fs, f.Name) {
			continue
		}
		data, err := workbook.Annotate(ctx, f, fs, workbook.Options{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			d.log.Info("pipeline: no annotated copy", "message", message, "file_sha256", sha256hex(f.Data), "err", err)
			continue
		}
		out = append(out, reply.Annotated{File: f.Name, Data: data})
	}
	return out, nil
}

// pointsInside reports whether a finding points inside the named file.
func pointsInside(fs []parser.Finding, name string) bool {
	for _, f := range fs {
		if f.File == name && (f.Sheet != "" || f.Row > 0 || f.Col > 0) {
			return true
		}
	}
	return false
}
