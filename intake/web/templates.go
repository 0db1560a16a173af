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
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var stylesheet []byte

// viewNames are the pages; each templates/NAME.html defines "content" and
// is parsed together with templates/layout.html.
var viewNames = []string{"overview", "submissions", "submission", "messages"}

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
	Nav   string // "overview", "submissions", "messages": the highlighted link
	Now   time.Time
	user  *principal
}

// newPage is the page of a request by a signed-in user.
func (s *Server) newPage(r *http.Request, title, nav string) page {
	return page{Title: title, Nav: nav, Now: s.o.Now(), user: signedIn(r)}
}

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

// render executes view name with data into a buffer, then writes it, so a
// failing template never leaves half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
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
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(stylesheet) //nolint:errcheck // the client went away
}
