package intake

import "testing"

func TestMessageID_headerOnly(t *testing.T) {
	for raw, want := range map[string]string{
		"From: a@b.gov\r\nMessage-ID: <x.1@dhs.gov>\r\n\r\nbody":      "x.1@dhs.gov",
		"Message-Id:\r\n <folded@dhs.gov>\r\nSubject: s\r\n\r\n":      "folded@dhs.gov",
		"From: a@b.gov\r\nSubject: none\r\n\r\nMessage-ID: <in@body>": "",
		"not a message at all": "",
	} {
		if got := messageID([]byte(raw)); got != want {
			t.Errorf("messageID(%q) = %q, want %q", raw, got, want)
		}
	}
}
