package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"intake/parser"
)

// The JSON has empty lists, never null, and times in RFC 3339 with whole
// seconds (issue 17: `"missing": null`, due dates with nanoseconds).
func TestAPI_emptyListsAndTimes(t *testing.T) {
	f := newFixture(t, options{})
	// Every expected agency accepted: nothing missing or outstanding.
	for _, ag := range []string{"HS", "DJ", "TR"} {
		f.submit(sub{receipt: "TST-" + ag, agency: ag, accepted: true,
			records: []parser.Record{{Kind: "position-report", Fields: map[string]string{"agency_code": ag}}}})
	}
	res := f.get("/api/calls/test-call/status")
	b := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	if strings.Contains(b, "null") {
		t.Errorf("the JSON has null:\n%s", b)
	}
	for _, want := range []string{`"missing": []`, `"outstanding": []`, `"due": "2025-03-24T23:59:59-04:00"`} {
		if !strings.Contains(b, want) {
			t.Errorf("the JSON lacks %s:\n%s", want, b)
		}
	}
	if frac := regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d`); frac.MatchString(b) {
		t.Errorf("a time with a fraction of a second:\n%s", b)
	}

	res = f.get("/api/submissions?call=pii-call")
	if b := body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, `"submissions": []`) {
		t.Errorf("an empty list: %d %s", res.StatusCode, b)
	}
}
