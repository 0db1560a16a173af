package web

import (
	"io"
	"net/http"
	"strings"

	"intake/intake/export"
	"intake/store"
)

// export streams an export: /export?call=&kind=&format=csv|xlsx&current=1.
// The log line says what was exported and how many rows, never a value.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	def := s.o.Calls.Get(q.Get("call"))
	if def == nil {
		http.Error(w, "unknown data call", http.StatusNotFound)
		return
	}
	kind := q.Get("kind")
	if kind != "" && def.Kind(kind) == nil {
		http.Error(w, "unknown kind", http.StatusNotFound)
		return
	}
	format, err := export.ParseFormat(q.Get("format"))
	if err != nil {
		http.Error(w, "format: want csv or xlsx", http.StatusBadRequest)
		return
	}
	if !signedIn(r).mayRecords(def.ID, def) {
		s.forbidden(w, r, def.ID)
		return
	}
	current := q.Get("current") == "1" || q.Get("current") == "true"
	versions := "all versions"
	if current {
		versions = "current versions"
	}
	if err := s.audit(r, store.AuditExport, def.ID, strings.TrimSpace(kind+" "+versions), "format "+string(format)); err != nil {
		s.fail(w, r, err)
		return
	}
	name := def.ID
	if kind != "" {
		name += "-" + kind
	}
	if current {
		name += "-current"
	}
	name += "-" + s.o.Now().UTC().Format("20060102-150405") + "." + string(format)
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Content-Disposition", attachment(name))
	cw := &countingWriter{w: w}
	rows, err := export.Write(r.Context(), cw, s.o.Store, format, export.Options{Call: def, Kind: kind, CurrentOnly: current})
	if err != nil {
		s.log.Error("web: export failed", "call", def.ID, "kind", kind, "format", format, "rows", rows, "err", err)
		if cw.n == 0 {
			// Nothing sent yet (always so for XLSX, which is written once
			// complete): a proper error instead of an empty download.
			w.Header().Del("Content-Disposition")
			s.fail(w, r, err)
		}
		// Else part of a CSV is out: the client sees a cut file.
		return
	}
	s.log.Info("web: export", "call", def.ID, "kind", kind, "format", format, "current", current, "rows", rows)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
