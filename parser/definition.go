package parser

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // deadlines name IANA zones; the daemon may run where no zoneinfo is installed

	"gopkg.in/yaml.v3"
)

//go:embed calls/*.yaml
var builtinCalls embed.FS

// Column types.
const (
	TypeText    = "text"
	TypeYesNo   = "yesno"
	TypeEnum    = "enum"
	TypeDate    = "date"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeEmail   = "email"
)

// References a column may be checked against.
const (
	RefAgency    = "agency"
	RefSubAgency = "subagency"
	RefPayPlan   = "pay-plan"
)

// defaultMaxLength bounds a text cell when the column sets no MaxLength.
const defaultMaxLength = 4000

var (
	idPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	keyPattern    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	prefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,9}$`)
)

// Builtin returns the data calls shipped with intake, embedded from
// parser/calls/*.yaml.
func Builtin() ([]*Definition, error) {
	sub, err := fs.Sub(builtinCalls, "calls")
	if err != nil {
		return nil, fmt.Errorf("parser: built-in calls: %w", err)
	}
	return LoadFS(sub)
}

// BuiltinRegistry returns a Registry of the built-in calls.
func BuiltinRegistry() (*Registry, error) {
	defs, err := Builtin()
	if err != nil {
		return nil, err
	}
	return NewRegistry(defs...)
}

// LoadFS parses every *.yaml and *.yml file in the root of fsys, in name
// order. The first bad file
// stops the load: a deployment never runs with half its calls.
func LoadFS(fsys fs.FS) ([]*Definition, error) {
	const dir = "."
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("parser: read call definitions: %w", err)
	}
	var defs []*Definition
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		p := path.Join(dir, name)
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("parser: %s: %w", p, err)
		}
		d, err := ParseDefinition(p, data)
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return defs, nil
}

// ParseDefinition decodes one data call from YAML (unknown fields refused)
// and validates it fully: names, column types, patterns, rules (CEL is
// compiled here, once), lookups and the deadline. Errors name the file and
// the field, e.g. `parser: calls/x.yaml: kind "a": column "b": unknown type "dat"`.
func ParseDefinition(name string, data []byte) (*Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	d := new(Definition)
	if err := dec.Decode(d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("parser: %s: empty definition", name)
		}
		return nil, fmt.Errorf("parser: %s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parser: %s: more than one YAML document", name)
	}
	if err := d.compile(); err != nil {
		return nil, fmt.Errorf("parser: %s: %w", name, err)
	}
	return d, nil
}

// compiled is what a Definition needs at check time, built once at load.
type compiled struct {
	zone   *time.Location
	date   time.Time // single deadline date (midnight in zone), zero when weekly
	weekly *weeklyDue
	kinds  []*compiledKind
	rules  []*compiledRule // call-level rules
	byKind map[string]*compiledKind
	addrs  map[string]bool
	kw     []string // normalised subject keywords
}

type compiledKind struct {
	kind     *Kind
	index    int
	sheets   []string // normalised sheet names
	cols     []*compiledColumn
	keys     []string       // column keys by index (Row.Keys)
	keyIndex map[string]int // column key -> index
	keyCols  []int          // indices of the Key columns
	byKey    map[string]*compiledColumn
	headers  map[string]int // normalised header or alias -> column index
	rules    []*compiledRule
	agency   int // index of the column with reference agency, -1 if none
	period   int // index of the Period column, -1 if none
}

type compiledColumn struct {
	col      *Column
	typ      *columnType
	index    int
	re       *regexp.Regexp
	allowed  map[string]string // normalised -> canonical
	maxLen   int
	required bool
}

func (d *Definition) compile() error {
	c := &compiled{byKind: map[string]*compiledKind{}, addrs: map[string]bool{}}
	if !idPattern.MatchString(d.ID) {
		return fmt.Errorf("id %q: want lower-case letters, digits and dashes", d.ID)
	}
	if strings.TrimSpace(d.Title) == "" {
		return errors.New("title: missing")
	}
	if !prefixPattern.MatchString(d.ReceiptPrefix) {
		return fmt.Errorf("receipt_prefix %q: want 2-10 upper-case letters or digits", d.ReceiptPrefix)
	}
	for _, a := range d.Routing.Addresses {
		a = strings.ToLower(strings.TrimSpace(a))
		if !strings.Contains(a, "@") {
			return fmt.Errorf("routing: address %q: not an email address", a)
		}
		c.addrs[a] = true
	}
	for _, k := range d.Routing.SubjectKeywords {
		n := normSubject(k)
		if n == "" {
			return fmt.Errorf("routing: subject keyword %q: empty", k)
		}
		c.kw = append(c.kw, n)
	}
	if err := c.compileDeadline(&d.Deadline); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	if len(d.Kinds) == 0 {
		return errors.New("kinds: none defined")
	}
	for i := range d.Kinds {
		k := &d.Kinds[i]
		if !idPattern.MatchString(k.ID) {
			return fmt.Errorf("kind %q: id: want lower-case letters, digits and dashes", k.ID)
		}
		if c.byKind[k.ID] != nil {
			return fmt.Errorf("kind %q: defined twice", k.ID)
		}
		ck, err := compileKind(k, i)
		if err != nil {
			return fmt.Errorf("kind %q: %w", k.ID, err)
		}
		c.kinds = append(c.kinds, ck)
		c.byKind[k.ID] = ck
	}
	// Row rules are compiled after every kind exists.
	for _, ck := range c.kinds {
		for j := range ck.kind.Rules {
			r := &ck.kind.Rules[j]
			if r.Kind != "" && r.Kind != ck.kind.ID {
				return fmt.Errorf("kind %q: rule %q: kind %q: a row rule applies to its own kind", ck.kind.ID, r.ID, r.Kind)
			}
			cr, err := compileRule(r, ck, c)
			if err != nil {
				return fmt.Errorf("kind %q: rule %q: %w", ck.kind.ID, r.ID, err)
			}
			ck.rules = append(ck.rules, cr)
		}
	}
	for j := range d.Rules {
		r := &d.Rules[j]
		ck := c.byKind[r.Kind]
		if ck == nil {
			return fmt.Errorf("rule %q: kind %q: no such kind", r.ID, r.Kind)
		}
		cr, err := compileRule(r, ck, c)
		if err != nil {
			return fmt.Errorf("rule %q: %w", r.ID, err)
		}
		c.rules = append(c.rules, cr)
	}
	ids := map[string]bool{}
	for _, ck := range c.kinds {
		for _, r := range ck.rules {
			if ids[r.rule.ID] {
				return fmt.Errorf("rule %q: id used twice", r.rule.ID)
			}
			ids[r.rule.ID] = true
		}
	}
	for _, r := range c.rules {
		if ids[r.rule.ID] {
			return fmt.Errorf("rule %q: id used twice", r.rule.ID)
		}
		ids[r.rule.ID] = true
	}
	d.c = c
	return nil
}

func compileKind(k *Kind, index int) (*compiledKind, error) {
	ck := &compiledKind{kind: k, index: index, byKey: map[string]*compiledColumn{}, keyIndex: map[string]int{}, headers: map[string]int{}, agency: -1, period: -1}
	if strings.TrimSpace(k.Title) == "" {
		k.Title = k.ID
	}
	for _, s := range k.Sheets {
		if n := normHeader(s); n != "" {
			ck.sheets = append(ck.sheets, n)
		}
	}
	if len(k.Columns) == 0 {
		return nil, errors.New("columns: none defined")
	}
	if k.MinRows < 0 {
		return nil, fmt.Errorf("min_rows %d: negative", k.MinRows)
	}
	for i := range k.Columns {
		col := &k.Columns[i]
		cc, err := compileColumn(col, i)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", col.Key, err)
		}
		if ck.byKey[col.Key] != nil {
			return nil, fmt.Errorf("column %q: key used twice", col.Key)
		}
		ck.byKey[col.Key] = cc
		for _, h := range append([]string{col.Header}, col.Aliases...) {
			n := normHeader(h)
			if n == "" {
				return nil, fmt.Errorf("column %q: header or alias %q: empty", col.Key, h)
			}
			if j, dup := ck.headers[n]; dup && j != i {
				return nil, fmt.Errorf("column %q: header or alias %q: also names column %q", col.Key, h, k.Columns[j].Key)
			}
			ck.headers[n] = i
		}
		if col.Reference == RefAgency && ck.agency < 0 {
			ck.agency = i
		}
		ck.cols = append(ck.cols, cc)
		ck.keys = append(ck.keys, col.Key)
		ck.keyIndex[col.Key] = i
	}
	for _, key := range k.Key {
		if ck.byKey[key] == nil {
			return nil, fmt.Errorf("key: column %q: no such column", key)
		}
		ck.keyCols = append(ck.keyCols, ck.keyIndex[key])
	}
	if k.Period != "" {
		if ck.byKey[k.Period] == nil {
			return nil, fmt.Errorf("period: column %q: no such column", k.Period)
		}
		ck.period = ck.keyIndex[k.Period]
	}
	return ck, nil
}

func compileColumn(col *Column, index int) (*compiledColumn, error) {
	if !keyPattern.MatchString(col.Key) {
		return nil, errors.New("key: want lower-case letters, digits and underscores")
	}
	if strings.TrimSpace(col.Header) == "" {
		return nil, errors.New("header: missing")
	}
	cc := &compiledColumn{col: col, index: index, maxLen: col.MaxLength, required: col.Required}
	if cc.maxLen <= 0 {
		cc.maxLen = defaultMaxLength
	}
	switch cc.typ = columnTypes[col.Type]; {
	case col.Type == "":
		return nil, errors.New("type: missing")
	case cc.typ == nil:
		return nil, fmt.Errorf("unknown type %q", col.Type)
	case col.Type == TypeEnum && len(col.Allowed) == 0:
		return nil, errors.New("type enum: allowed values missing")
	}
	if len(col.Allowed) > 0 {
		if col.Type != TypeEnum {
			return nil, fmt.Errorf("allowed: only for type enum, not %q", col.Type)
		}
		cc.allowed = map[string]string{}
		for _, a := range col.Allowed {
			n := normValue(a)
			if n == "" {
				return nil, errors.New("allowed: empty value")
			}
			if _, dup := cc.allowed[n]; dup {
				return nil, fmt.Errorf("allowed: %q listed twice", a)
			}
			cc.allowed[n] = a
		}
	}
	if col.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + col.Pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", col.Pattern, err)
		}
		cc.re = re
	}
	for alias, canon := range col.ValueAliases {
		if col.Type != TypeEnum {
			return nil, fmt.Errorf("value_aliases: only for type enum, not %q", col.Type)
		}
		v, ok := cc.allowed[normValue(canon)]
		if !ok {
			return nil, fmt.Errorf("value_aliases: %q means %q, which is not an allowed value", alias, canon)
		}
		n := normValue(alias)
		if prev, dup := cc.allowed[n]; dup && prev != v {
			return nil, fmt.Errorf("value_aliases: %q already means %q", alias, prev)
		}
		cc.allowed[n] = v
	}
	if (col.Min != nil || col.Max != nil) && !cc.typ.ranged {
		return nil, fmt.Errorf("min/max: only for integer and number, not %q", col.Type)
	}
	if col.Min != nil && col.Max != nil && *col.Min > *col.Max {
		return nil, errors.New("min is above max")
	}
	switch col.Reference {
	case "", RefAgency, RefSubAgency, RefPayPlan:
	default:
		return nil, fmt.Errorf("reference %q: want agency, subagency or pay-plan", col.Reference)
	}
	if col.Substantive && col.Type != TypeText {
		return nil, fmt.Errorf("substantive: only for type text, not %q", col.Type)
	}
	return cc, nil
}

// Kind returns the kind with that id, or nil.
func (d *Definition) Kind(id string) *Kind {
	for i := range d.Kinds {
		if d.Kinds[i].ID == id {
			return &d.Kinds[i]
		}
	}
	return nil
}

// Registry holds the data calls a deployment knows, by id.
type Registry struct {
	defs []*Definition
	byID map[string]*Definition
}

// NewRegistry makes a registry; two definitions with one id are refused,
// and so is a definition that was not made by ParseDefinition.
func NewRegistry(defs ...*Definition) (*Registry, error) {
	r := &Registry{byID: map[string]*Definition{}}
	for _, d := range defs {
		if d == nil || d.c == nil {
			return nil, errors.New("parser: registry: definition not loaded with ParseDefinition")
		}
		if r.byID[d.ID] != nil {
			return nil, fmt.Errorf("parser: registry: call %q defined twice", d.ID)
		}
		r.byID[d.ID] = d
		r.defs = append(r.defs, d)
	}
	sort.SliceStable(r.defs, func(i, j int) bool { return r.defs[i].ID < r.defs[j].ID })
	return r, nil
}

// Get returns the call with that id, or nil.
func (r *Registry) Get(id string) *Definition { return r.byID[id] }

// All returns every call, ordered by id.
func (r *Registry) All() []*Definition { return append([]*Definition(nil), r.defs...) }
