// Package parser owns what a data call is and what a submission says.
//
// It is pure: bytes and a data-call Definition go in, typed Records and
// Findings come out. It has no network, no database and no clock (the
// caller passes the time in). The other stages share its types: the
// Definition of a data call, the Submission parsed from an email's
// workbooks with the sheet/row provenance of every Record, and the Finding
// that a deficiency notice renders.
//
// A problem in the sender's workbook is a Finding, never an error: an error
// from this package means the input could not be examined at all.
//
// Files: definition.go loads and validates data calls (YAML, built-ins in
// calls/, CEL rules compiled once in rules.go); coltype.go defines each
// column type once (coercion, description, template validation);
// check.go, sheetcheck.go, cell.go and calllevel.go turn attachments into
// rows and Findings as they stream, keeping only what rules across rows
// need (stream.go: CheckStream); route.go picks the call of a mail;
// diff.go compares versions; deadline.go answers when a call is due;
// status.go says where each agency stands (the one computation every
// status view uses); agency.go matches an agency to what staff type;
// reference.go reads the agency, pay-plan and .gov domain tables.
// parsertest builds workbooks for other packages' tests.
package parser
