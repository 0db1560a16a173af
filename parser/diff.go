package parser

import (
	"hash/maphash"
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
// among the kind's rows. Results are ordered by kind, then row. It is
// the Differ over records held in memory.
func Diff(def *Definition, old, new []Record) Changes {
	d := NewDiffer(def)
	for _, r := range old {
		d.Old(r)
	}
	var row Row
	for _, r := range new {
		row.Kind, row.File, row.Sheet, row.Num = r.Kind, r.File, r.Sheet, r.Row
		row.Keys, row.Values = row.Keys[:0], row.Values[:0]
		for k, v := range r.Fields {
			row.Keys = append(row.Keys, k)
			row.Values = append(row.Values, v)
		}
		d.New(&row)
	}
	return d.Changes()
}

// Differ compares a new version of an agency's records with the previous
// one as both stream by: Old for each stored record of the kinds the new
// version sends, New for each row of the new version, then Changes. It
// matches rows as Diff says. Of each old row it keeps the key, the row
// number and a 32-bit hash per field (so Changed names the fields); of a
// new row, nothing but what Changes reports. Values never stay. A Differ
// is for one goroutine.
type Differ struct {
	seed  maphash.Seed
	kinds map[string]*diffKind
	pii   bool
	key   []byte
	added []RowChange
	chg   []RowChange
}

// diffKind is the Differ's state for one kind.
type diffKind struct {
	keyCols []string       // the kind's Key columns
	names   []string       // field names, by index; the definition's columns first
	index   map[string]int // field name -> index
	old     map[string]int32
	rows    []oldRow
	hashes  []uint32 // per old row, len(names) at its time, back to back
	oldPos  int      // old rows seen (for rows matched by position)
	newPos  int
	oldRep  map[uint64]int // how often each key (by its hash) came among old rows
	newRep  map[uint64]int
	vals    []uint32 // scratch: the new row's hashes by field index
}

type oldRow struct {
	row  int32
	off  uint32 // its hashes start in hashes
	n    uint16 // and number this many
	seen bool   // a new row matched it
}

// NewDiffer starts a comparison for def.
func NewDiffer(def *Definition) *Differ {
	d := &Differ{seed: maphash.MakeSeed(), kinds: map[string]*diffKind{}, pii: def != nil && def.PII}
	if def != nil {
		for _, k := range def.Kinds {
			dk := d.kind(k.ID)
			dk.keyCols = k.Key
			for _, c := range k.Columns {
				dk.name(c.Key)
			}
		}
	}
	return d
}

func (d *Differ) kind(id string) *diffKind {
	dk := d.kinds[id]
	if dk == nil {
		dk = &diffKind{index: map[string]int{}, old: map[string]int32{}, oldRep: map[uint64]int{}, newRep: map[uint64]int{}}
		d.kinds[id] = dk
	}
	return dk
}

func (dk *diffKind) name(n string) int {
	if i, ok := dk.index[n]; ok {
		return i
	}
	dk.index[n] = len(dk.names)
	dk.names = append(dk.names, n)
	return len(dk.names) - 1
}

// hash is a field's value hash; a missing field is hashed as "", as Diff
// compares a missing field with a blank one.
func (d *Differ) hash(v string) uint32 { return uint32(maphash.String(d.seed, v)) }

// ident is a row's identity among the kind's rows: its key, or its
// position when it has none; a repeated key is told apart by its
// repetition ("key", "key\x002", ...).
func (d *Differ) ident(dk *diffKind, field func(string) string, pos int, rep map[uint64]int) string {
	b := d.key[:0]
	blank := true
	for i, c := range dk.keyCols {
		if i > 0 {
			b = append(b, '\x1f')
		}
		v := strings.ToUpper(strings.TrimSpace(field(c)))
		blank = blank && v == ""
		b = append(b, v...)
	}
	d.key = b
	if len(dk.keyCols) == 0 || blank {
		return "\x00#" + strconv.Itoa(pos)
	}
	h := maphash.Bytes(d.seed, b)
	n := rep[h] + 1
	rep[h] = n
	k := string(b)
	if n > 1 {
		k += "\x00" + strconv.Itoa(n)
	}
	return k
}

// Old adds a record of the previous version.
func (d *Differ) Old(r Record) {
	dk := d.kind(r.Kind)
	dk.oldPos++
	id := d.ident(dk, func(c string) string { return r.Fields[c] }, dk.oldPos, dk.oldRep)
	for n := range r.Fields {
		dk.name(n)
	}
	o := oldRow{row: int32(r.Row), off: uint32(len(dk.hashes)), n: uint16(len(dk.names))}
	for _, n := range dk.names {
		dk.hashes = append(dk.hashes, d.hash(r.Fields[n]))
	}
	dk.old[id] = int32(len(dk.rows))
	dk.rows = append(dk.rows, o)
}

// New adds a row of the new version.
func (d *Differ) New(r *Row) {
	dk := d.kind(r.Kind)
	dk.newPos++
	id := d.ident(dk, r.Field, dk.newPos, dk.newRep)
	oi, ok := dk.old[id]
	if !ok {
		d.added = append(d.added, RowChange{Kind: r.Kind, Key: d.display(id), Row: r.Num})
		return
	}
	o := &dk.rows[oi]
	o.seen = true
	empty := d.hash("")
	dk.vals = dk.vals[:0]
	for range dk.names {
		dk.vals = append(dk.vals, empty)
	}
	for i, k := range r.Keys {
		j := dk.name(k)
		if j >= len(dk.vals) {
			dk.vals = append(dk.vals, empty)
		}
		dk.vals[j] = d.hash(r.Values[i])
	}
	var fields []string
	for j, h := range dk.vals {
		oh := empty
		if j < int(o.n) {
			oh = dk.hashes[int(o.off)+j]
		}
		if oh != h {
			fields = append(fields, dk.names[j])
		}
	}
	if len(fields) > 0 {
		sort.Strings(fields)
		d.chg = append(d.chg, RowChange{Kind: r.Kind, Key: d.display(id), Row: r.Num, Fields: fields})
	}
}

// display is the Key a RowChange shows for an identity.
func (d *Differ) display(id string) string {
	if strings.HasPrefix(id, "\x00#") || d.pii {
		// For PII not even a hash: a short hash of a name is a lookup
		// away from the name. The row number names the row.
		return ""
	}
	k, _, _ := strings.Cut(id, "\x00")
	return strings.ReplaceAll(k, "\x1f", " / ")
}

// Changes is what the new version changed: rows added, removed (old rows
// no new row matched) and changed, each ordered by kind, then row.
func (d *Differ) Changes() Changes {
	c := Changes{Added: d.added, Changed: d.chg}
	kinds := make([]string, 0, len(d.kinds))
	for k := range d.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		dk := d.kinds[kind]
		ids := make([]string, len(dk.rows))
		for id, i := range dk.old {
			ids[i] = id
		}
		for i, o := range dk.rows {
			if !o.seen {
				c.Removed = append(c.Removed, RowChange{Kind: kind, Key: d.display(ids[i]), Row: int(o.row)})
			}
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
