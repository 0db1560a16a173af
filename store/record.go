package store

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"intake/parser"
)

// appendFields appends a record's fields as a JSON object with sorted keys.
// It is a hand-written encoder because encoding/json's map path (reflection,
// a sort and an allocation per key) is the bulk of the cost of storing 100k
// records; the output is plain JSON that encoding/json reads back.
func appendFields(b []byte, fields map[string]string, keys []string) ([]byte, []string) {
	// The records of a kind have the same keys: the sorted keys of the
	// record before serve again when they are all this one's.
	same := len(keys) == len(fields)
	for _, k := range keys {
		if !same {
			break
		}
		_, same = fields[k]
	}
	if !same {
		keys = keys[:0]
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, fields[k])
	}
	return append(b, '}'), keys
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD (as
// encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeFields reads a record's stored fields.
func decodeFields(data []byte) (map[string]string, error) {
	fields := map[string]string{}
	if err := decodeFieldsInto(data, fields); err != nil {
		return nil, err
	}
	return fields, nil
}

// decodeFieldsInto reads a record's stored fields into fields. The
// version diff and the cross-kind lookups read every stored row of an
// agency back, so this is fastjson's parser (a pool of them), a fifth of
// encoding/json's time and allocations for the same JSON.
func decodeFieldsInto(data []byte, fields map[string]string) error {
	p := fieldParsers.Get()
	defer fieldParsers.Put(p)
	v, err := p.ParseBytes(data)
	if err != nil {
		return fmt.Errorf("store: record fields: %w", err)
	}
	o, err := v.Object()
	if err != nil {
		return fmt.Errorf("store: record fields: %w", err)
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = v.StringBytes(); err != nil {
			err = fmt.Errorf("store: record fields: %q: %w", k, err)
			return
		}
		fields[string(k)] = string(b)
	})
	return err
}

var fieldParsers fastjson.ParserPool

// scanRecord reads kind, file_name, sheet, row, fields.
func scanRecord(r rowScanner) (parser.Record, error) {
	var (
		rec    parser.Record
		fields []byte
	)
	if err := r.Scan(&rec.Kind, &rec.File, &rec.Sheet, &rec.Row, &fields); err != nil {
		return rec, err
	}
	var err error
	rec.Fields, err = decodeFields(fields)
	return rec, err
}
