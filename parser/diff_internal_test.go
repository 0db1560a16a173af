package parser

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// diffDef is a call of three kinds: one keyed by two columns, one by
// one, one without a key.
func diffDef(pii bool) *Definition {
	cols := func(keys ...string) []Column {
		var c []Column
		for _, k := range keys {
			c = append(c, Column{Key: k})
		}
		return c
	}
	return &Definition{ID: "diff-test", PII: pii, Kinds: []Kind{
		{ID: "pair", Key: []string{"a", "b"}, Columns: cols("a", "b", "v")},
		{ID: "single", Key: []string{"id"}, Columns: cols("id", "v", "w")},
		{ID: "none", Columns: cols("v", "w")},
	}}
}

// refDiff is what Diff says, worked out the plain way: a row's identity
// is a string (its key, with "\x00" and the repetition for a repeated
// key, or "\x00#" and the position for a row without a key), values are
// compared as they are.
func refDiff(def *Definition, old, new []Record) Changes {
	keyCols := map[string][]string{}
	for _, k := range def.Kinds {
		keyCols[k.ID] = k.Key
	}
	idents := func(rs []Record) []string {
		pos, rep := map[string]int{}, map[string]int{}
		var ids []string
		for _, r := range rs {
			pos[r.Kind]++
			var parts []string
			blank := true
			for _, c := range keyCols[r.Kind] {
				v := strings.ToUpper(strings.TrimSpace(r.Fields[c]))
				blank = blank && v == ""
				parts = append(parts, v)
			}
			id := r.Kind + "\x00"
			if blank {
				id += "\x00#" + strconv.Itoa(pos[r.Kind])
			} else {
				k := strings.Join(parts, "\x1f")
				rep[r.Kind+"\x00"+k]++
				id += k
				if n := rep[r.Kind+"\x00"+k]; n > 1 {
					id += "\x00" + strconv.Itoa(n)
				}
			}
			ids = append(ids, id)
		}
		return ids
	}
	shown := func(id string) string {
		_, id, _ = strings.Cut(id, "\x00") // the kind
		if def.PII || strings.HasPrefix(id, "\x00#") {
			return ""
		}
		k, _, _ := strings.Cut(id, "\x00")
		return strings.ReplaceAll(k, "\x1f", " / ")
	}
	oldIDs, newIDs := idents(old), idents(new)
	byID := map[string]int{}
	for i, id := range oldIDs {
		byID[id] = i
	}
	var c Changes
	seen := make([]bool, len(old))
	for j, r := range new {
		i, ok := byID[newIDs[j]]
		if !ok {
			c.Added = append(c.Added, RowChange{Kind: r.Kind, Key: shown(newIDs[j]), Row: r.Row})
			continue
		}
		seen[i] = true
		var fields []string
		for f := range old[i].Fields {
			if old[i].Fields[f] != r.Fields[f] {
				fields = append(fields, f)
			}
		}
		for f, v := range r.Fields {
			if _, ok := old[i].Fields[f]; !ok && v != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) > 0 {
			slices.Sort(fields)
			c.Changed = append(c.Changed, RowChange{Kind: r.Kind, Key: shown(newIDs[j]), Row: r.Row, Fields: fields})
		}
	}
	for i, r := range old {
		if !seen[i] {
			c.Removed = append(c.Removed, RowChange{Kind: r.Kind, Key: shown(oldIDs[i]), Row: r.Row})
		}
	}
	for _, l := range [][]RowChange{c.Added, c.Removed, c.Changed} {
		slices.SortStableFunc(l, func(a, b RowChange) int {
			if a.Kind != b.Kind {
				return strings.Compare(a.Kind, b.Kind)
			}
			return a.Row - b.Row
		})
	}
	return c
}

// hashes the Differ's tests use for keys: its own, and some that make
// different keys meet (all of them, or many).
var testKeyHashes = []struct {
	name string
	fn   func([]byte) uint64
}{
	{"maphash", nil},
	{"constant", func([]byte) uint64 { return 42 }},
	{"length", func(k []byte) uint64 { return uint64(len(k) % 3) }},
	{"first byte", func(k []byte) uint64 { return uint64(k[0]) << 60 }},
}

func diffWith(def *Definition, hash func([]byte) uint64, old, new []Record) Changes {
	d := NewDiffer(def)
	d.hashKey = hash
	return d.diff(old, new)
}

func changesString(c Changes) string {
	var b strings.Builder
	for i, l := range [][]RowChange{c.Added, c.Removed, c.Changed} {
		b.WriteString([]string{"added:", " removed:", " changed:"}[i])
		for _, rc := range l {
			fmt.Fprintf(&b, " %s/%q@%d", rc.Kind, rc.Key, rc.Row)
			if len(rc.Fields) > 0 {
				fmt.Fprintf(&b, "%v", rc.Fields)
			}
		}
	}
	return b.String()
}

func drec(kind string, row int, kv ...string) Record {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return Record{Kind: kind, Row: row, Fields: f}
}

// Two keys of one hash are two rows, each matched by its own key, however
// many keys share the hash and however often each comes: every key here
// has the hash of every other.
func TestDiffer_hashCollisions(t *testing.T) {
	old := []Record{
		drec("single", 2, "id", "A", "v", "1"),
		drec("single", 3, "id", "B", "v", "2"),
		drec("single", 4, "id", "C", "v", "3"),
		drec("single", 5, "id", "b", "v", "4"), // B again
		drec("single", 6, "id", "A", "v", "5"), // A again
		drec("single", 7, "id", "", "v", "6"),  // no key: position 6
		drec("single", 8, "id", "E", "v", "7"),
		drec("pair", 2, "a", "A", "b", "B", "v", "1"),
		drec("pair", 3, "a", "A", "b", "C", "v", "2"),
		drec("pair", 4, "a", "AB", "b", "", "v", "3"),
	}
	new := []Record{
		drec("single", 2, "id", "B", "v", "2"),          // B, first: same
		drec("single", 3, "id", "A", "v", "1"),          // A, first: same
		drec("single", 4, "id", "B", "v", "four"),       // B, second: changed (id: b)
		drec("single", 5, "id", "D", "v", "8"),          // added
		drec("single", 6, "id", "c ", "v", "3"),         // C: id changed
		drec("single", 7, "v", "6"),                     // no key, position 6: same
		drec("single", 8, "id", "B", "v", "9"),          // B, third: added
		drec("pair", 2, "a", "a", "b", "c", "v", "two"), // A / C: changed (a, b, v)
		drec("pair", 3, "a", "AB", "b", "", "v", "3"),   // AB: same
		drec("pair", 4, "a", "A", "b", "", "v", "1"),    // A / (blank): added
	}
	const want = `added: pair/"A / "@4 single/"D"@5 single/"B"@8` +
		` removed: pair/"A / B"@2 single/"A"@6 single/"E"@8` +
		` changed: pair/"A / C"@2[a b v] single/"B"@4[id v] single/"C"@6[id]`
	if got := changesString(refDiff(diffDef(false), old, new)); got != want {
		t.Fatalf("reference: %s\nwant       %s", got, want)
	}
	for _, h := range testKeyHashes {
		d := NewDiffer(diffDef(false))
		d.hashKey = h.fn
		if got := changesString(d.diff(old, new)); got != want {
			t.Errorf("%s: %s\nwant %s", h.name, got, want)
		}
		if more := len(d.kinds["single"].more); h.name == "constant" && more != 4 {
			// A, B, C and E share a hash, B² and A² another.
			t.Errorf("%s: %d identities beyond ids, want 4", h.name, more)
		}
	}
}

// Keys are compared as their values trimmed and upper-cased, a repeated
// key by its repetition, a row without a key (or with all of it blank) by
// its position; a PII call shows no key, a kind without a key none
// either, a key of two columns the two joined by " / ".
func TestDiffer_identities(t *testing.T) {
	old := []Record{
		drec("pair", 2, "a", "x", "b", "y", "v", "1"),
		drec("pair", 3, "a", "X ", "b", " Y", "v", "2"), // x / y again
		drec("pair", 4, "a", "", "b", "", "v", "3"),     // position 3
		drec("pair", 5, "a", "é", "b", "", "v", "4"),
		drec("pair", 6, "a", "", "b", "z", "v", "5"),
		drec("none", 2, "v", "1"),
		drec("none", 3, "v", "2"),
		drec("none", 4, "v", "3"),
	}
	new := []Record{
		drec("pair", 7, "a", "x", "b", "y", "v", "2"), // x / y, first: changed
		drec("pair", 8, "a", "", "b", "z", "v", "5"),  // same
		drec("pair", 9, "v", "3"),                     // position 3: same
		drec("pair", 10, "a", "É", "b", "", "v", "4"), // É / (blank): a changed
		drec("pair", 11, "a", "", "b", "", "v", "6"),  // position 5: added
		drec("none", 2, "v", "1"),
		drec("none", 3, "v", "two", "w", "x"),
	}
	for _, pii := range []bool{false, true} {
		want := `added: pair/""@11 removed: none/""@4 pair/"X / Y"@3 changed: none/""@3[v w] pair/"X / Y"@7[v] pair/"É / "@10[a]`
		if pii {
			want = strings.NewReplacer(`"X / Y"`, `""`, `"É / "`, `""`).Replace(want)
		}
		if got := changesString(refDiff(diffDef(pii), old, new)); got != want {
			t.Fatalf("pii %v: reference: %s\nwant %s", pii, got, want)
		}
		for _, h := range testKeyHashes {
			if got := changesString(diffWith(diffDef(pii), h.fn, old, new)); got != want {
				t.Errorf("pii %v, %s: %s\nwant %s", pii, h.name, got, want)
			}
		}
	}
}

// The Differ says what the plain reference says, over versions full of
// repeated keys, blank keys, keys of two columns and hash collisions.
func TestDiffer_random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keyVals := []string{"", " ", "x", "X", " x ", "y", "xy", "é", "É", "a\x1fb", "a", "b"}
	vals := []string{"", "1", "2", "3"}
	gen := func(n int) []Record {
		var rs []Record
		for i := 0; i < n; i++ {
			kind := []string{"pair", "single", "none", "other"}[r.IntN(4)]
			f := map[string]string{}
			for _, c := range []string{"a", "b", "id"} {
				if r.IntN(5) > 0 {
					f[c] = keyVals[r.IntN(len(keyVals))]
				}
			}
			for _, c := range []string{"v", "w", "extra"} {
				if r.IntN(3) > 0 {
					f[c] = vals[r.IntN(len(vals))]
				}
			}
			rs = append(rs, Record{Kind: kind, Row: 2 + r.IntN(3*n), Fields: f})
		}
		return rs
	}
	for i := 0; i < 300; i++ {
		old, new := gen(r.IntN(40)), gen(r.IntN(40))
		if i%3 == 0 { // a new version close to the old one
			new = append(slices.Clone(old[:r.IntN(len(old)+1)]), new[:len(new)/4]...)
		}
		pii := i%5 == 0
		want := changesString(refDiff(diffDef(pii), old, new))
		for _, h := range testKeyHashes {
			if got := changesString(diffWith(diffDef(pii), h.fn, old, new)); got != want {
				t.Fatalf("case %d, pii %v, %s:\n%s\nwant\n%s", i, pii, h.name, got, want)
			}
		}
	}
}

// Old rows past a chunk of rows or of field hashes (the fields of a row
// kept together), and fields that come in the middle, are kept right.
func TestDiffer_chunks(t *testing.T) {
	const n = chunkLen + chunkLen/2
	var old, new []Record
	for i := 0; i < n; i++ {
		r := drec("single", i+2, "id", "K"+strconv.Itoa(i%(n-100)), "v", strconv.Itoa(i))
		if i > n/3 {
			r.Fields["w"] = "w"
		}
		if i > n/2 {
			r.Fields["late"+strconv.Itoa(i/5000)] = "z"
		}
		old = append(old, r)
		switch {
		case i%7 == 0: // removed
		case i%11 == 0:
			c := drec("single", i+2, "id", r.Fields["id"], "v", "changed")
			for k, v := range r.Fields {
				if k != "v" {
					c.Fields[k] = v
				}
			}
			new = append(new, c)
		default:
			new = append(new, r)
		}
	}
	want := refDiff(diffDef(false), old, new)
	if len(want.Removed) == 0 || len(want.Changed) == 0 {
		t.Fatal("nothing to compare")
	}
	for _, h := range testKeyHashes[:2] {
		d := NewDiffer(diffDef(false))
		d.hashKey = h.fn
		if h.fn != nil {
			// All keys colliding: n lookups of the overflow map each.
			old, new = old[:chunkLen+5000], new[:chunkLen]
			want = refDiff(diffDef(false), old, new)
		}
		got := d.diff(old, new)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d added, %d removed, %d changed; want %d, %d, %d", h.name,
				len(got.Added), len(got.Removed), len(got.Changed), len(want.Added), len(want.Removed), len(want.Changed))
		}
		if len(d.kinds["single"].rows.c) < 2 || len(d.kinds["single"].hashes.c) < 2 {
			t.Errorf("%s: %d chunks of rows, %d of hashes", h.name, len(d.kinds["single"].rows.c), len(d.kinds["single"].hashes.c))
		}
	}
}

// What the Differ keeps of an old row, besides its key and field hashes,
// stays 16 bytes.
func TestDiffer_oldRowSize(t *testing.T) {
	if n := unsafe.Sizeof(oldRow{}); n != 16 {
		t.Errorf("oldRow is %d bytes", n)
	}
}
