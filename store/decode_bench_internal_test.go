package store

import (
	"testing"
)

func sampleFields() []byte {
	fields := map[string]string{"agency_code": "HS", "component": "HS07", "position_number": "HS-0001234", "title": "Deputy Assistant Secretary",
		"organization": "Office of the Under Secretary", "type": "General", "noncareer": "N", "designation": "Career Reserved",
		"date": "2021-03-01", "status": "In process", "incumbent": "Career"}
	b, _ := appendFields(nil, fields, nil)
	return b
}

// BenchmarkDecodeFields is the cost of reading one stored record's fields
// back (the version diff and the cross-kind lookups read every stored row).
func BenchmarkDecodeFields(b *testing.B) {
	data := sampleFields()
	fields := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		clear(fields)
		if err := decodeFieldsInto(data, fields); err != nil {
			b.Fatal(err)
		}
	}
}
