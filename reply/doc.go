// Package reply turns the outcome of a submission into the message the
// agency receives. It builds mail only: the workbooks a reply carries
// (annotated copies, the list of changes) are made by package workbook
// and handed over as bytes in the Outcome; reply never opens them.
//
// It builds, never sends: a Builder renders an Outcome into a Mail (RFC
// 5322 bytes with a stable Message-ID chosen by the caller), which the
// outbox delivers later. The same input always gives the same bytes
// (MIME boundaries are derived from the Message-ID, the date is the
// outcome's Now), so a reply can be rebuilt after a crash and reviewed as a
// golden file.
//
// Replies follow RFC 3834: they carry "Auto-Submitted: auto-replied" (and
// "X-Auto-Response-Suppress: All" for Exchange), thread on the original
// mail, and go only to the original sender. For a call that holds PII no
// cell value is ever written into a reply body: findings are value-free
// already, and a changed row is named by its row number and the hashed key
// the parser gives it, never by its values.
//
// The package imports parser for its types only.
package reply
