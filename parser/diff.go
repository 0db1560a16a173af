package parser

import (
	"sort"
	"strconv"
	"strings"
)

// Changes is what a new version of a submission changed against the
// previous one.
type Changes struct {
	Added   []RowChange `json:"added,omitempty"`
	Removed []RowChange `json:"removed,omitempty"`
	Changed []RowChange `json:"changed,omitempty"`
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// RowChange is one row added, removed or changed.
//
// Key identifies the row across versions: the values of the kind's Key
// columns joined with " / " (e.g. "HS-0002"). For a call with PII it is
// empty, so nothing in Changes holds a cell value or a hash of one (a
// short hash of a name is a lookup away from the name); Row (the sheet row
// of the new version, or of the old one for a removed row) then tells the
// reader where to look. Fields lists the column keys whose values differ (Changed only).
type RowChange struct {
	Kind   string   `json:"kind"`
	Key    string   `json:"key"`
	Row    int      `json:"row"`
	Fields []string `json:"fields,omitempty"`
}

// Diff compares two versions of an agency's records of a call. Rows are
// matched per kind by the kind's Key columns; a kind without Key columns,
// or a row whose key columns are all blank, is matched by its position
// among the kind's rows. Results are ordered by kind, then row.
func Diff(def *Definition, old, new []Record) Changes {
	keyCols := map[string][]string{}
	if def != nil {
		for _, k := range def.Kinds {
			keyCols[k.ID] = k.Key
		}
	}
	pii := def != nil && def.PII
	type ident struct{ kind, key string }
	index := func(recs []Record) (map[ident]*Record, []ident) {
		m := make(map[ident]*Record, len(recs))
		var order []ident
		pos := map[string]int{}
		for i := range recs {
			r := &recs[i]
			pos[r.Kind]++
			id := ident{r.Kind, recordKey(r, keyCols[r.Kind])}
			if id.key == "" {
				id.key = "\x00#" + strconv.Itoa(pos[r.Kind])
			}
			for n := 2; ; n++ { // a repeated key: keep both, in order
				if _, dup := m[id]; !dup {
					break
				}
				id.key = strings.TrimSuffix(id.key, "\x00"+strconv.Itoa(n-1)) + "\x00" + strconv.Itoa(n)
			}
			m[id] = r
			order = append(order, id)
		}
		return m, order
	}
	oldIdx, oldOrder := index(old)
	newIdx, newOrder := index(new)
	display := func(id ident) string {
		k := id.key
		if strings.HasPrefix(k, "\x00#") {
			return ""
		}
		k, _, _ = strings.Cut(k, "\x00")
		if pii {
			// Not even a hash: a short hash of a name is a lookup
			// away from the name. The row number names the row.
			return ""
		}
		return strings.ReplaceAll(k, "\x1f", " / ")
	}
	var c Changes
	for _, id := range newOrder {
		n := newIdx[id]
		o, ok := oldIdx[id]
		if !ok {
			c.Added = append(c.Added, RowChange{Kind: id.kind, Key: display(id), Row: n.Row})
			continue
		}
		if fields := changedFields(o.Fields, n.Fields); len(fields) > 0 {
			c.Changed = append(c.Changed, RowChange{Kind: id.kind, Key: display(id), Row: n.Row, Fields: fields})
		}
	}
	for _, id := range oldOrder {
		if _, ok := newIdx[id]; !ok {
			c.Removed = append(c.Removed, RowChange{Kind: id.kind, Key: display(id), Row: oldIdx[id].Row})
		}
	}
	for _, l := range [][]RowChange{c.Added, c.Removed, c.Changed} {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].Kind != l[j].Kind {
				return l[i].Kind < l[j].Kind
			}
			return l[i].Row < l[j].Row
		})
	}
	return c
}

// recordKey joins the values of the key columns with \x1f; "" when all are
// blank.
func recordKey(r *Record, cols []string) string {
	if len(cols) == 0 {
		return ""
	}
	var b strings.Builder
	blank := true
	for i, c := range cols {
		if i > 0 {
			b.WriteByte('\x1f')
		}
		v := strings.ToUpper(strings.TrimSpace(r.Fields[c]))
		blank = blank && v == ""
		b.WriteString(v)
	}
	if blank {
		return ""
	}
	return b.String()
}

func changedFields(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, k)
		}
	}
	for k, v := range a {
		if _, ok := b[k]; !ok && v != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
