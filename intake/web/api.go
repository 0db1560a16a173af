package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"intake/store"
)

// writeJSON answers v as JSON with status code.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.log.Error("web: encode json", "path", r.URL.Path, "err", err)
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// apiError is the body of a failed API call.
type apiError struct {
	Error string `json:"error"`
}

// jsonFail answers err as JSON: 404 for ErrNotFound, 400 for
// ErrBadFilter, else 500 (logged).
func (s *Server) jsonFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.writeJSON(w, r, http.StatusNotFound, apiError{"not found"})
		return
	}
	if errors.Is(err, store.ErrBadFilter) {
		s.writeJSON(w, r, http.StatusBadRequest, apiError{badFilterText(err)})
		return
	}
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	s.writeJSON(w, r, http.StatusInternalServerError, apiError{"internal error"})
}

// apiCallStatus: GET /api/calls/{call}/status, the overview of one call.
func (s *Server) apiCallStatus(w http.ResponseWriter, r *http.Request) {
	def := s.o.Calls.Get(r.PathValue("call"))
	if def == nil {
		s.writeJSON(w, r, http.StatusNotFound, apiError{"unknown data call"})
		return
	}
	c, err := s.callStatus(r.Context(), def, s.o.Now())
	if err != nil {
		s.jsonFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, c)
}

// submissionList is the JSON of /api/submissions.
type submissionList struct {
	Submissions []submissionRow `json:"submissions"`
	Total       int             `json:"total"`     // how many matched, across all pages
	Offset      int             `json:"offset"`    // how many matching ones come before these
	Truncated   bool            `json:"truncated"` // more matched than listed
}

// apiSubmissions: GET /api/submissions?call=&agency=&state=&q=&sort=&dir=&page=&per=;
// an unknown call, state or agency is refused (400).
func (s *Server) apiSubmissions(w http.ResponseWriter, r *http.Request) {
	v, err := s.listSubmissions(r)
	if err != nil {
		s.jsonFail(w, r, err)
		return
	}
	list := submissionList{Submissions: v.Submissions, Total: v.List.Total, Offset: v.List.Offset(), Truncated: v.Truncated}
	if list.Submissions == nil {
		list.Submissions = []submissionRow{} // an empty list, never null
	}
	s.writeJSON(w, r, http.StatusOK, list)
}

// apiSubmission: GET /api/submissions/{receipt}.
func (s *Server) apiSubmission(w http.ResponseWriter, r *http.Request) {
	v, err := s.detail(r)
	if err != nil {
		s.jsonFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}
