package parser

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"math"
	"slices"
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
	return NewDiffer(def).diff(old, new)
}

func (d *Differ) diff(old, new []Record) Changes {
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
	key   []byte // scratch: a row's key
	added []RowChange
	chg   []RowChange
	text  keyText // the Keys of the RowChanges
	// hashKey, when set, hashes a key in place of maphash (a test makes
	// keys collide with it).
	hashKey func([]byte) uint64
}

// diffKind is the Differ's state for one kind.
//
// A row's identity is its key and the key's repetition (1 for the first
// row with the key, 2 for the next, ...), or, for a row without a key
// (the kind has no Key columns, or they are blank), its position among
// the kind's rows. An old row with a key finds its place in ids by a
// 64-bit hash of its identity, its key itself kept in arena (the keys of
// all old rows back to back) and compared there, so that two identities
// of one hash never match each other: the second of them goes in more,
// by its key. An old row without a key is found by its position: old row
// i has position i+1.
type diffKind struct {
	keyCols []string       // the kind's Key columns
	names   []string       // field names, by index; the definition's columns first
	index   map[string]int // field name -> index
	rows    chunks[oldRow]
	nrows   int
	hashes  chunks[uint32]   // per old row, len(names) at its time, together
	arena   []byte           // the keys of the old rows, in row order
	ids     map[uint64]int32 // identity hash -> old row
	more    map[ident]int32  // identities whose hash ids has for another
	oldRep  map[int32]int32  // first old row of a repeated key -> how often it came again among old rows
	newRep  map[int32]int32  // the same among new rows
	newPos  int              // new rows seen (for rows matched by position)
	vals    []uint32         // scratch: the new row's hashes by field index
}

// ident is a keyed identity, as more holds it.
type ident struct {
	key string
	rep int32
}

// oldRow is what the Differ keeps of an old row (16 bytes).
type oldRow struct {
	row  int32  // sheet row
	off  uint32 // its hashes start at hashes[off]
	key  uint32 // its key starts at arena[key] and ends where the next row's starts
	n    uint16 // it has this many hashes
	seen bool   // a new row matched it
	pos  bool   // it has no key: identified by its position
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
		dk = &diffKind{index: map[string]int{}}
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

// rowKey is a row's key: the values of the kind's Key columns, trimmed,
// upper-cased and joined by \x1f, in d.key. It reports false for a row
// without one (no Key columns, or all of them blank).
func (d *Differ) rowKey(dk *diffKind, field func(string) string) ([]byte, bool) {
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
	return b, len(dk.keyCols) > 0 && !blank
}

// keyHash is the hash of a key; identHash that of the key's rep'th
// occurrence. identHash(h, rep) differs from identHash(h, rep') for rep
// != rep', so rows of one key and one identity hash have one repetition.
func (d *Differ) keyHash(k []byte) uint64 {
	if d.hashKey != nil {
		return d.hashKey(k)
	}
	return maphash.Bytes(d.seed, k)
}

func identHash(h uint64, rep int32) uint64 {
	return h ^ uint64(rep-1)*0x9e3779b97f4a7c15 // odd: rep -> the product is one-to-one
}

// oldKey is old row i's key (empty for a row without one).
func (dk *diffKind) oldKey(i int32) []byte {
	start := dk.rows.at(uint32(i)).key
	end := uint32(len(dk.arena))
	if int(i)+1 < dk.nrows {
		end = dk.rows.at(uint32(i) + 1).key
	}
	return dk.arena[start:end]
}

// find returns the old row of identity (k, rep), h being k's hash.
func (dk *diffKind) find(k []byte, h uint64, rep int32) (int32, bool) {
	i, ok := dk.ids[identHash(h, rep)]
	if !ok {
		return 0, false
	}
	// Row i has this identity hash; with this key it has this repetition
	// too (see identHash).
	if bytes.Equal(dk.oldKey(i), k) {
		return i, true
	}
	if dk.more == nil {
		return 0, false
	}
	i, ok = dk.more[ident{string(k), rep}]
	return i, ok
}

// Old adds a record of the previous version. All of them come before
// any New.
func (d *Differ) Old(r Record) {
	dk := d.kind(r.Kind)
	i := int32(dk.nrows)
	k, keyed := d.rowKey(dk, func(c string) string { return r.Fields[c] })
	o := oldRow{row: int32(r.Row), key: uint32(len(dk.arena)), pos: !keyed}
	if keyed {
		h := d.keyHash(k)
		rep := int32(1)
		if first, ok := dk.find(k, h, 1); ok {
			if dk.oldRep == nil {
				dk.oldRep = map[int32]int32{}
			}
			dk.oldRep[first]++
			rep = dk.oldRep[first] + 1
		}
		// The identity is new (rep counts the key's rows), so a row ids
		// has under its hash has another: this one goes in more.
		if id := identHash(h, rep); dk.ids == nil {
			dk.ids = map[uint64]int32{id: i}
		} else if _, taken := dk.ids[id]; !taken {
			dk.ids[id] = i
		} else {
			if dk.more == nil {
				dk.more = map[ident]int32{}
			}
			dk.more[ident{string(k), rep}] = i
		}
		dk.arena = append(dk.arena, k...)
	}
	for n := range r.Fields {
		dk.name(n)
	}
	n := min(len(dk.names), math.MaxUint16)
	o.n = uint16(n)
	o.off = dk.hashes.alloc(n)
	hs := dk.hashes.slice(o.off, n)
	for j := range hs {
		hs[j] = d.hash(r.Fields[dk.names[j]])
	}
	*dk.rows.at(dk.rows.alloc(1)) = o
	dk.nrows++
}

// New adds a row of the new version.
func (d *Differ) New(r *Row) {
	dk := d.kind(r.Kind)
	dk.newPos++
	k, keyed := d.rowKey(dk, r.Field)
	oi := int32(-1)
	if keyed {
		h := d.keyHash(k)
		if first, ok := dk.find(k, h, 1); ok {
			// The key's first new row takes its first old row, the
			// next its next.
			if !dk.rows.at(uint32(first)).seen {
				oi = first
			} else {
				if dk.newRep == nil {
					dk.newRep = map[int32]int32{}
				}
				dk.newRep[first]++
				if i, ok := dk.find(k, h, dk.newRep[first]+1); ok {
					oi = i
				}
			}
		}
	} else if p := dk.newPos - 1; p < dk.nrows && dk.rows.at(uint32(p)).pos {
		oi = int32(p)
	}
	if oi < 0 {
		d.added = append(d.added, RowChange{Kind: r.Kind, Key: d.shown(k, keyed), Row: r.Num})
		return
	}
	o := dk.rows.at(uint32(oi))
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
	old := dk.hashes.slice(o.off, int(o.n))
	var fields []string
	for j, h := range dk.vals {
		oh := empty
		if j < len(old) {
			oh = old[j]
		}
		if oh != h {
			fields = append(fields, dk.names[j])
		}
	}
	if len(fields) > 0 {
		slices.Sort(fields)
		d.chg = append(d.chg, RowChange{Kind: r.Kind, Key: d.shown(k, keyed), Row: r.Num, Fields: fields})
	}
}

// shown is the Key a RowChange shows for a row's key: the key columns'
// values joined by " / ", or nothing for a row without a key or for a
// call with PII (not even a hash: a short hash of a name is a lookup away
// from the name; the row number names the row).
func (d *Differ) shown(k []byte, keyed bool) string {
	if !keyed || d.pii {
		return ""
	}
	return d.text.add(k)
}

// shownLen is the length of shown(k, keyed).
func (d *Differ) shownLen(k []byte, keyed bool) int {
	if !keyed || d.pii {
		return 0
	}
	return keyTextLen(k)
}

// Changes is what the new version changed: rows added, removed (old rows
// no new row matched) and changed, each ordered by kind, then row.
func (d *Differ) Changes() Changes {
	c := Changes{Added: d.added, Changed: d.chg}
	kinds := make([]string, 0, len(d.kinds))
	for k := range d.kinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	// Count first, so that a long list takes one allocation for its
	// changes and one for their keys.
	removed, size := 0, 0
	for _, kind := range kinds {
		dk := d.kinds[kind]
		dk.rows.each(func(i int32, o *oldRow) {
			if !o.seen {
				removed++
				size += d.shownLen(dk.oldKey(i), !o.pos)
			}
		})
	}
	if removed > 0 {
		c.Removed = make([]RowChange, 0, removed)
		d.text.reserve(size)
		for _, kind := range kinds {
			dk := d.kinds[kind]
			dk.rows.each(func(i int32, o *oldRow) {
				if !o.seen {
					c.Removed = append(c.Removed, RowChange{Kind: kind, Key: d.shown(dk.oldKey(i), !o.pos), Row: int(o.row)})
				}
			})
		}
	}
	byRow := func(a, b RowChange) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return cmp.Compare(a.Row, b.Row)
	}
	for _, l := range [][]RowChange{c.Added, c.Removed, c.Changed} {
		if !slices.IsSortedFunc(l, byRow) {
			slices.SortStableFunc(l, byRow)
		}
	}
	return c
}

// keyText holds the Keys of RowChanges back to back in a few strings,
// not a string each.
type keyText struct {
	b    strings.Builder // the current string; what it has written stays as it is
	next int             // the size of the next one
}

// keyTextLen is the length of the Key shown for key k: the key columns'
// values joined by " / " in place of \x1f.
func keyTextLen(k []byte) int {
	k, _, _ = bytes.Cut(k, []byte{0})
	return len(k) + 2*bytes.Count(k, []byte{'\x1f'})
}

// reserve makes room for n more bytes.
func (t *keyText) reserve(n int) {
	if t.b.Cap()-t.b.Len() >= n {
		return
	}
	t.next = min(max(2*t.next, 256), 64<<10)
	t.b = strings.Builder{}
	t.b.Grow(max(n, t.next))
}

// add returns the Key shown for key k.
func (t *keyText) add(k []byte) string {
	k, _, _ = bytes.Cut(k, []byte{0}) // never there but for a key value holding one
	n := keyTextLen(k)
	if n == 0 {
		return ""
	}
	t.reserve(n)
	start := t.b.Len()
	for {
		before, after, found := bytes.Cut(k, []byte{'\x1f'})
		t.b.Write(before)
		if !found {
			break
		}
		t.b.WriteString(" / ")
		k = after
	}
	return t.b.String()[start:]
}

// chunks is an append-only list of values kept in chunks of chunkLen
// (the first grows as a slice does until it has that many): a list of
// millions is never copied to grow, nor holds much room it does not use.
// A value's offset is its chunk<<chunkShift + its index there.
type chunks[T any] struct{ c [][]T }

const (
	chunkShift = 16
	chunkLen   = 1 << chunkShift
)

// alloc appends n (<= chunkLen) zero values, together in one chunk, and
// returns the first's offset.
func (s *chunks[T]) alloc(n int) uint32 {
	if n == 0 {
		return 0
	}
	last := len(s.c) - 1
	if last < 0 || len(s.c[last])+n > chunkLen {
		size := chunkLen
		if last < 0 {
			size = max(n, 64)
		}
		s.c = append(s.c, make([]T, 0, size))
		last++
	}
	c := s.c[last]
	if len(c)+n > cap(c) { // the first chunk, still growing
		c = slices.Grow(c, min(max(2*cap(c), len(c)+n), chunkLen)-len(c))
	}
	s.c[last] = c[:len(c)+n]
	return uint32(last<<chunkShift + len(c))
}

func (s *chunks[T]) at(off uint32) *T {
	return &s.c[off>>chunkShift][off&(chunkLen-1)]
}

// slice is the n values from off.
func (s *chunks[T]) slice(off uint32, n int) []T {
	if n == 0 {
		return nil
	}
	i := int(off & (chunkLen - 1))
	return s.c[off>>chunkShift][i : i+n : i+n]
}

// each calls fn for each value of a list filled by alloc(1), with its
// index.
func (s *chunks[T]) each(fn func(int32, *T)) {
	for ci, c := range s.c {
		for j := range c {
			fn(int32(ci<<chunkShift+j), &c[j])
		}
	}
}
