package parser

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// compiledRule is a Rule ready to run.
type compiledRule struct {
	rule      *Rule
	kind      *compiledKind
	col       *compiledColumn // the column a finding points at; nil = whole row
	when      cel.Program     // nil = always
	assert    cel.Program     // nil for a lookup rule
	lookup    *compiledKind
	lookupCol *compiledColumn
	where     cel.Program // nil = any row of the lookup kind
	cols      []string    // row columns the rule reads: it is skipped when one is invalid
	colIdx    []int       // their indices in the kind
	whereRow  []int       // lookup: the rule kind's columns where reads (row.x), by index
	whereRef  []int       // lookup: the lookup kind's columns where reads (ref.x), by index
	severity  string
	// memo: the row rule reads the row only through the columns in cols,
	// so its outcome can be remembered by their values.
	memo bool
}

var (
	rowWord         = regexp.MustCompile(`\brow\b`)
	rowRefPattern   = regexp.MustCompile(`\brow\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\brow\s*\[\s*["']([^"']*)["']\s*\]`)
	lookupRefPatten = regexp.MustCompile(`\bref\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\bref\s*\[\s*["']([^"']*)["']\s*\]`)
)

// celEnv declares the variables rules see: the checked row and, in a
// lookup's where, the candidate row it names. Both map column keys to
// normalised values; a blank cell is "".
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("row", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("ref", cel.MapType(cel.StringType, cel.StringType)),
	)
}

func (c *compiled) program(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%q: %v", expr, iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("%q: gives %v, want bool", expr, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%q: %v", expr, err)
	}
	return prg, nil
}

// referenced returns the column keys an expression reads through the
// variable pattern matches, checking each names a column of ck.
func referenced(pattern *regexp.Regexp, expr, field string, ck *compiledKind) ([]string, error) {
	var out []string
	for _, m := range pattern.FindAllStringSubmatch(expr, -1) {
		key := m[1] + m[2]
		if ck.byKey[key] == nil {
			return nil, fmt.Errorf("%s: column %q: no such column in kind %q", field, key, ck.kind.ID)
		}
		out = append(out, key)
	}
	return out, nil
}

func compileRule(r *Rule, ck *compiledKind, c *compiled) (*compiledRule, error) {
	if r.ID == "" {
		return nil, errors.New("id: missing")
	}
	if r.Message == "" {
		return nil, errors.New("message: missing")
	}
	cr := &compiledRule{rule: r, kind: ck, severity: SeverityError}
	switch r.Severity {
	case "", SeverityError:
	case SeverityWarning:
		cr.severity = SeverityWarning
	default:
		return nil, fmt.Errorf("severity %q: want error or warning", r.Severity)
	}
	if r.Column != "" {
		if cr.col = ck.byKey[r.Column]; cr.col == nil {
			return nil, fmt.Errorf("column %q: no such column in kind %q", r.Column, ck.kind.ID)
		}
	}
	if (r.Assert == "") == (r.Lookup == nil) {
		return nil, errors.New("want exactly one of assert and lookup")
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel: %w", err)
	}
	for _, e := range []struct {
		field, expr string
		prg         *cel.Program
	}{{"when", r.When, &cr.when}, {"assert", r.Assert, &cr.assert}} {
		if e.expr == "" {
			continue
		}
		cols, err := referenced(rowRefPattern, e.expr, e.field, ck)
		if err != nil {
			return nil, err
		}
		cr.cols = append(cr.cols, cols...)
		if *e.prg, err = c.program(env, e.expr); err != nil {
			return nil, fmt.Errorf("%s: %w", e.field, err)
		}
	}
	if r.Lookup == nil {
		uses := len(rowWord.FindAllStringIndex(r.When, -1)) + len(rowWord.FindAllStringIndex(r.Assert, -1))
		refs := len(rowRefPattern.FindAllStringIndex(r.When, -1)) + len(rowRefPattern.FindAllStringIndex(r.Assert, -1))
		cr.memo = uses == refs
	}
	if lk := r.Lookup; lk != nil {
		if r.Column == "" {
			return nil, errors.New("lookup: column: missing (the column whose value must be found)")
		}
		cr.cols = append(cr.cols, r.Column)
		if cr.lookup = c.byKind[lk.Kind]; cr.lookup == nil {
			return nil, fmt.Errorf("lookup: kind %q: no such kind", lk.Kind)
		}
		if cr.lookupCol = cr.lookup.byKey[lk.Column]; cr.lookupCol == nil {
			return nil, fmt.Errorf("lookup: column %q: no such column in kind %q", lk.Column, lk.Kind)
		}
		if lk.Where != "" {
			refCols, err := referenced(lookupRefPatten, lk.Where, "lookup: where", cr.lookup)
			if err != nil {
				return nil, err
			}
			cr.whereRef = indices(cr.lookup, refCols)
			cols, err := referenced(rowRefPattern, lk.Where, "lookup: where", ck)
			if err != nil {
				return nil, err
			}
			cr.whereRow = indices(ck, cols)
			cr.cols = append(cr.cols, cols...)
			if cr.where, err = c.program(env, lk.Where); err != nil {
				return nil, fmt.Errorf("lookup: where: %w", err)
			}
		}
	}
	cr.colIdx = indices(ck, cr.cols)
	return cr, nil
}

// indices returns the column indices of keys in ck, each once, in order.
func indices(ck *compiledKind, keys []string) []int {
	var out []int
	for _, k := range keys {
		i := ck.byKey[k].index
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// activation hands rows to CEL without building a map per evaluation:
// row and ref resolve to rowMaps over the rows' values.
type activation struct {
	row, ref *rowMap
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "row":
		return a.row, a.row != nil
	case "ref":
		return a.ref, a.ref != nil
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// eval runs a boolean program; an evaluation error (a missing key, say)
// counts as false, and is returned so the caller can tell.
func eval(prg cel.Program, act *activation) (bool, error) {
	out, _, err := prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("result %v is not a bool", out)
	}
	return b, nil
}

// rowMap is a row as CEL sees it, a map from the kind's column keys to
// their values, read straight from the values by column index.
type rowMap struct {
	ck   *compiledKind
	vals []string // by column index
}

var _ traits.Mapper = (*rowMap)(nil)

// Find returns the value of a column key; (nil, false) for another key.
func (m *rowMap) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	i, ok := m.ck.keyIndex[string(s)]
	if !ok || i >= len(m.vals) {
		return nil, false
	}
	return types.String(m.vals[i]), true
}

func (m *rowMap) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

func (m *rowMap) Get(key ref.Val) ref.Val {
	if v, found := m.Find(key); found {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

func (m *rowMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, m.ck.keys).Iterator()
}

func (m *rowMap) Size() ref.Val { return types.Int(len(m.ck.keys)) }

// goMap copies the row into a Go map: for the rare expression that
// converts or compares the whole row.
func (m *rowMap) goMap() map[string]string {
	out := make(map[string]string, len(m.ck.keys))
	for i, k := range m.ck.keys {
		if i < len(m.vals) {
			out[k] = m.vals[i]
		} else {
			out[k] = ""
		}
	}
	return out
}

func (m *rowMap) ConvertToNative(t reflect.Type) (any, error) {
	return types.NewStringStringMap(types.DefaultTypeAdapter, m.goMap()).ConvertToNative(t)
}

func (m *rowMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, t)
}

func (m *rowMap) Equal(other ref.Val) ref.Val {
	return types.NewStringStringMap(types.DefaultTypeAdapter, m.goMap()).Equal(other)
}

func (m *rowMap) Type() ref.Type { return types.MapType }
func (m *rowMap) Value() any     { return m.goMap() }
