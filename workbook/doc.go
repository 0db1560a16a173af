// Package workbook writes the workbooks agencies are given: the blank
// official templates of a data call (Template, TemplateAll), annotated
// copies of their own workbooks that show each finding (Annotate), and the
// list of changes an acknowledgement attaches (Changes).
//
// Annotate rewrites the agency's package at the zip level, as a stream: it
// never builds a model of the workbook, so its memory is bounded whatever
// the workbook's size, and its time is linear in the size and the
// findings. Templates and change lists are small and written with excelize.
//
// The package imports parser for its types, and parser/sheet for the
// limits of what it reads. It builds bytes; package reply attaches them.
package workbook
