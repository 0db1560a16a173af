package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Every list of the dashboard searches, sorts and pages the same way,
// from the query string: q (the search text), sort (a column's key), dir
// (asc or desc), page (from 1) and per (rows a page: 25, 50, 100 or 200;
// default 50).

// perPage are the page sizes offered; defaultPer is the first shown.
var perPage = []int{25, 50, 100, 200}

const defaultPer = 50

// listState is what a list was asked for, and how many rows match.
type listState struct {
	base  string     // the list's path
	query url.Values // its filters, beside q, sort, dir, page, per
	sorts []string   // the sort keys it offers

	Q     string
	Sort  string
	Desc  bool
	Page  int // 1-based
	Per   int
	Total int // rows matching, across all pages
}

// readList reads a list's parameters from r. sorts are the keys offered;
// def and defDesc the order without one. filters are the other query
// parameters the list keeps across its links.
func readList(r *http.Request, base string, sorts []string, def string, defDesc bool, filters ...string) listState {
	q := r.URL.Query()
	l := listState{base: base, query: url.Values{}, sorts: sorts, Q: strings.TrimSpace(q.Get("q")), Sort: def, Desc: defDesc,
		Page: 1, Per: defaultPer}
	for _, f := range filters {
		if v := q.Get(f); v != "" {
			l.query.Set(f, v)
		}
	}
	if s := q.Get("sort"); slices.Contains(sorts, s) {
		l.Sort = s
		l.Desc = q.Get("dir") == "desc"
	}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 {
		l.Page = p
	}
	if n, err := strconv.Atoi(q.Get("per")); err == nil && slices.Contains(perPage, n) {
		l.Per = n
	}
	return l
}

// Offset is the first row of the page.
func (l listState) Offset() int { return (l.Page - 1) * l.Per }

// Pages is the number of pages (at least 1).
func (l listState) Pages() int { return max(1, (l.Total+l.Per-1)/l.Per) }

// First and Last are the 1-based rows shown (0, 0 when none).
func (l listState) First() int {
	if l.Total == 0 {
		return 0
	}
	return min(l.Offset()+1, l.Total)
}

func (l listState) Last() int { return min(l.Offset()+l.Per, l.Total) }

// PerPage are the page sizes offered.
func (l listState) PerPage() []int { return perPage }

// url is the list's link with changes applied to its parameters.
func (l listState) url(change func(v url.Values)) template.URL {
	v := url.Values{}
	for k, vs := range l.query {
		v[k] = slices.Clone(vs)
	}
	if l.Q != "" {
		v.Set("q", l.Q)
	}
	v.Set("sort", l.Sort)
	if l.Desc {
		v.Set("dir", "desc")
	}
	if l.Page > 1 {
		v.Set("page", strconv.Itoa(l.Page))
	}
	if l.Per != defaultPer {
		v.Set("per", strconv.Itoa(l.Per))
	}
	change(v)
	return template.URL(l.base + "?" + v.Encode())
}

// PageURL links to page p.
func (l listState) PageURL(p int) template.URL {
	return l.url(func(v url.Values) {
		v.Del("page")
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
	})
}

// Prev and Next link to the neighbouring pages ("" at either end).
func (l listState) Prev() template.URL {
	if l.Page <= 1 {
		return ""
	}
	return l.PageURL(l.Page - 1)
}

func (l listState) Next() template.URL {
	if l.Page >= l.Pages() {
		return ""
	}
	return l.PageURL(l.Page + 1)
}

// SortURL links to the list sorted by key: ascending, or descending when it
// is already sorted ascending by it; back to the first page.
func (l listState) SortURL(key string) template.URL {
	return l.url(func(v url.Values) {
		v.Del("page")
		v.Set("sort", key)
		v.Del("dir")
		if key == l.Sort && !l.Desc {
			v.Set("dir", "desc")
		}
	})
}

// AriaSort is the aria-sort value of the column sorted by key.
func (l listState) AriaSort(key string) string {
	switch {
	case key != l.Sort:
		return "none"
	case l.Desc:
		return "descending"
	}
	return "ascending"
}

// Hidden are the list's filters and order, for its search form to keep.
func (l listState) Hidden() []hiddenField {
	var out []hiddenField
	keys := make([]string, 0, len(l.query))
	for k := range l.query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, hiddenField{k, l.query.Get(k)})
	}
	out = append(out, hiddenField{"sort", l.Sort})
	if l.Desc {
		out = append(out, hiddenField{"dir", "desc"})
	}
	return out
}

type hiddenField struct{ Name, Value string }
