package store

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// FuzzAppendFields checks the hand-written encoder against encoding/json:
// its output must be valid JSON that decodes to what encoding/json would
// have stored; and the decoder (fastjson) against encoding/json: both the
// encoder's output and encoding/json's read back as encoding/json reads
// them.
func FuzzAppendFields(f *testing.F) {
	for _, seed := range [][2]string{
		{"position_number", "P0001"},
		{"notes", "=HYPERLINK(\"x\")\t\"quoted\" \\ back"},
		{"ctl", "\x00\x01\x1f\x7f \u2028\u2029 </script>"},
		{"utf8", "é 日本 😀"},
		{"bad\xffkey", "bad \xc3\x28 utf8 \xed\xa0\x80 surrogate"},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		fields := map[string]string{k: v, "other": strings.ToUpper(v)}
		got, _ := appendFields(nil, fields, nil)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q", got)
		}
		want, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(a, b) {
			t.Fatalf("decoded %q, encoding/json gives %q", a, b)
		}
		for _, data := range [][]byte{got, want} {
			d, err := decodeFields(data)
			if err != nil {
				t.Fatalf("decodeFields(%q): %v", data, err)
			}
			if !maps.Equal(d, b) {
				t.Fatalf("decodeFields(%q) = %q, encoding/json reads %q", data, d, b)
			}
		}
	})
}

func TestAppendFields_sortedAndReusable(t *testing.T) {
	var keys []string
	buf, keys := appendFields(nil, map[string]string{"b": "2", "a": "1", "c": "3"}, keys)
	if string(buf) != `{"a":"1","b":"2","c":"3"}` {
		t.Fatalf("got %s", buf)
	}
	// The next record of the kind: the same keys, reused unsorted again.
	buf, keys = appendFields(buf[:0], map[string]string{"c": "6", "b": "5", "a": "4"}, keys)
	if string(buf) != `{"a":"4","b":"5","c":"6"}` {
		t.Fatalf("same keys: got %s", buf)
	}
	// Other keys of the same number: the keys are made anew.
	buf, keys = appendFields(buf[:0], map[string]string{"x": "1", "a": "2", "b": "3"}, keys)
	if string(buf) != `{"a":"2","b":"3","x":"1"}` {
		t.Fatalf("other keys: got %s", buf)
	}
	buf, _ = appendFields(buf[:0], map[string]string{}, keys)
	if string(buf) != `{}` {
		t.Fatalf("empty fields: got %s", buf)
	}
}
