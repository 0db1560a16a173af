package workbook

import (
	"bufio"
	"context"
	"io"
	"strconv"

	"intake/parser"
)

// issueLink is a cell of the Issues sheet linked to a place in the workbook.
type issueLink struct {
	ref, location string
}

// writeIssues streams the Issues sheet: a header row, then one row per
// finding (number, sheet, cell, column, severity, problem, fix,
// authority), with links where linked[i] is set. Strings are inline, so
// the workbook's shared strings stay as they are.
func writeIssues(ctx context.Context, w io.Writer, ns namespaces, st *styler, fs []parser.Finding, link func(i int) string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	last := len(fs) + 1
	if len(fs) == 0 {
		last = 2
	}
	bw.WriteString(xmlHeader + `<worksheet xmlns="` + ns.main + `" xmlns:r="` + ns.rel + `">` +
		`<sheetPr><tabColor rgb="FFC00000"/></sheetPr><dimension ref="A1:H` + strconv.Itoa(last) + `"/>` +
		`<sheetViews><sheetView tabSelected="1" workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>` +
		`<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>`)
	for i, wd := range []string{"6", "22", "11", "26", "10", "60", "60", "18"} {
		n := strconv.Itoa(i + 1)
		bw.WriteString(`<col min="` + n + `" max="` + n + `" width="` + wd + `" customWidth="1"/>`)
	}
	bw.WriteString(`</cols><sheetData>`)
	head, wrap, lk := strconv.Itoa(st.issueXf(xfHeader)), strconv.Itoa(st.issueXf(xfWrap)), strconv.Itoa(st.issueXf(xfLink))
	// The same problem repeats down a column: its escaped text is kept.
	var seen [8]struct{ in, out string }
	str := func(col string, row string, style, v string) {
		if v == "" {
			bw.WriteString(`<c r="` + col + row + `" s="` + style + `"/>`)
			return
		}
		memo := &seen[col[0]-'A']
		if memo.in != v || memo.out == "" {
			memo.in, memo.out = v, escape(v)
		}
		bw.WriteString(`<c r="` + col + row + `" s="` + style + `" t="inlineStr"><is><t xml:space="preserve">` + memo.out + `</t></is></c>`)
	}
	bw.WriteString(`<row r="1">`)
	for i, h := range []string{"#", "Sheet", "Cell", "Column", "Severity", "Problem", "How to fix", "Authority"} {
		str(string(rune('A'+i)), "1", head, h)
	}
	bw.WriteString(`</row>`)
	if len(fs) == 0 {
		bw.WriteString(`<row r="2">`)
		str("F", "2", wrap, "No problems were found in this workbook.")
		bw.WriteString(`</row>`)
	}
	var links []issueLink
	for i, x := range fs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := strconv.Itoa(i + 2)
		where := target(x)
		if where == "" {
			where = "whole sheet"
			if x.Sheet == "" {
				where = "whole file"
			}
		}
		sev := "Error"
		if x.Severity == parser.SeverityWarning {
			sev = "Warning"
		}
		bw.WriteString(`<row r="` + r + `"><c r="A` + r + `" s="` + wrap + `"><v>` + strconv.Itoa(i+1) + `</v></c>`)
		str("B", r, wrap, x.Sheet)
		cs := wrap
		if loc := link(i); loc != "" {
			cs = lk
			links = append(links, issueLink{"C" + r, loc})
		}
		str("C", r, cs, where)
		str("D", r, wrap, x.Column)
		str("E", r, wrap, sev)
		str("F", r, wrap, x.Message)
		str("G", r, wrap, x.Fix)
		str("H", r, wrap, x.Cite)
		bw.WriteString(`</row>`)
	}
	bw.WriteString(`</sheetData>`)
	if len(links) > 0 {
		bw.WriteString(`<hyperlinks>`)
		for _, l := range links {
			bw.WriteString(`<hyperlink ref="` + l.ref + `" location="` + escape(l.location) + `" display="Go to the cell"/>`)
		}
		bw.WriteString(`</hyperlinks>`)
	}
	bw.WriteString(`<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>`)
	return bw.Flush()
}
