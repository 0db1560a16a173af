package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"intake/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var stylesheet []byte

// sortCol is a column header that sorts its list.
type sortCol struct {
	L          listState
	Key, Label string
}

// viewNames are the pages; each templates/NAME.html defines "content" and
// is parsed together with templates/layout.html.
var viewNames = []string{"overview", "submissions", "submission", "messages", "message", "replies", "reply", "call",
	"attention", "login", "questions", "question"}

// views holds every page's parsed template. Executing a parsed
// html/template is safe from many goroutines at once.
type views struct {
	byName map[string]*template.Template
}

// templateFuncs are the helpers the templates call.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Format("2006-01-02 15:04 MST")
		},
		"query": func(kv ...string) template.URL {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					v.Set(kv[i], kv[i+1])
				}
			}
			return template.URL(v.Encode())
		},
		"path": url.PathEscape,
		"join": strings.Join,
		"rfc3339": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		// col is a sortable column's header: the list, the sort key, the label.
		"col": func(l listState, key, label string) sortCol { return sortCol{L: l, Key: key, Label: label} },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
	}
}

// parseViews parses every view with the layout, and checks that each
// embedded page is a declared view (a page nobody can render is a bug).
func parseViews() (*views, error) {
	v := &views{byName: map[string]*template.Template{}}
	for _, name := range viewNames {
		t, err := template.New(name).Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		if t.Lookup("content") == nil || t.Lookup("layout") == nil {
			return nil, fmt.Errorf("web: template %s: no content or layout", name)
		}
		v.byName[name] = t
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if _, ok := v.byName[name]; !ok && name != "layout" {
			return nil, fmt.Errorf("web: template %s is not a declared view", name)
		}
	}
	return v, nil
}

// page is what the layout needs; every view embeds it.
type page struct {
	Title string
	Nav   string // "overview", "attention", "submissions", "questions", "messages", "replies": the highlighted link
	Now   time.Time
	// CSRF is the token every form that changes something carries.
	CSRF string
	// Attention counts what needs staff, for the navigation (analysts).
	Attention store.Attention
	user      *principal
}

// AttentionTotal is the number of items in the needs-attention queue.
func (p page) AttentionTotal() int {
	a := p.Attention
	return a.Quarantined + a.Undecided + a.FailedReplies + a.HeldReplies + a.DeficientLatest + a.Questions
}

// newPage is the page of a request by a signed-in user. For an analyst it
// counts what needs attention (a failure only leaves the counts out).
func (s *Server) newPage(r *http.Request, title, nav string) page {
	p := page{Title: title, Nav: nav, Now: s.o.Now(), user: signedIn(r), CSRF: csrfToken(r)}
	if p.user.may(RoleAnalyst) {
		a, err := s.o.Store.Attention(r.Context())
		if err != nil {
			s.log.Error("web: attention counts", "err", err)
		}
		p.Attention = a
	}
	return p
}

// Admin tells whether the user may act on the mail: the action buttons
// are shown only then.
func (p page) Admin() bool { return p.user.may(RoleAdmin) }

// UserName is who is signed in.
func (p page) UserName() string {
	if p.user == nil {
		return ""
	}
	return p.user.Name
}

// Role is the signed-in user's role.
func (p page) Role() string {
	if p.user == nil {
		return ""
	}
	return p.user.Role.String()
}

// Analyst tells whether the user sees submissions and mail: the links to
// them are shown only then.
func (p page) Analyst() bool { return p.user.may(RoleAnalyst) }

// Records tells whether the user may see a call's records and export
// them (pii: the call holds personal data).
func (p page) Records(call string, pii bool) bool {
	if !p.user.may(RoleAnalyst) {
		return false
	}
	return !pii || p.user.grants[call]
}

// render executes view name with data into a buffer, then writes it
// (with status, default 200), so a failing template never leaves half a
// page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any, status ...int) {
	t := s.views.byName[name]
	if t == nil {
		s.fail(w, r, fmt.Errorf("web: no view %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.fail(w, r, fmt.Errorf("web: render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if len(status) > 0 {
		w.WriteHeader(status[0])
	}
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(stylesheet) //nolint:errcheck // the client went away
}
