package parser

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"net/mail"
	"strings"

	"intake/parser/sheet"
)

// SignatureName is the workbook defined name that templates made by
// `intake template` carry; its value is "<call>/<kind>".
const SignatureName = "intake_call"

// RouteInput is what routing looks at in an email.
type RouteInput struct {
	Recipients []string // To, Cc and Delivered-To addresses (bare or "Name <addr>")
	Subject    string
	Files      []Input
}

// Route picks the data call an email answers, and says why: "recipient"
// (a call lists the address), "workbook" (a template signature, or sheets
// whose headers match the call's kinds) or "subject" (a keyword). The
// workbook decides first (among the calls that list the address, then
// among all); then the address; then the subject. It returns nil, ""
// when nothing matches.
func (r *Registry) Route(in RouteInput) (*Definition, string) {
	var byAddr []*Definition
	rcpt := map[string]bool{}
	for _, a := range in.Recipients {
		rcpt[bareAddress(a)] = true
	}
	for _, d := range r.defs {
		for a := range d.c.addrs {
			if rcpt[a] {
				byAddr = append(byAddr, d)
				break
			}
		}
	}
	// The data says best which call it answers: a workbook made from a
	// call's template, or with its headers, goes to that call, even in a
	// mailbox another call's address names (calls may share a mailbox).
	// Among several matches, the calls the recipient names come first.
	if len(byAddr) > 0 {
		if d := routeWorkbook(byAddr, in.Files); d != nil {
			return d, "workbook"
		}
	}
	if d := routeWorkbook(r.defs, in.Files); d != nil {
		return d, "workbook"
	}
	if len(byAddr) == 1 {
		return byAddr[0], "recipient"
	}
	pool := r.defs
	if len(byAddr) > 1 {
		pool = byAddr
	}
	if d := routeSubject(pool, in.Subject); d != nil {
		return d, "subject"
	}
	if len(byAddr) > 0 {
		return byAddr[0], "recipient"
	}
	return nil, ""
}

func bareAddress(a string) string {
	a = strings.TrimSpace(a)
	if addr, err := mail.ParseAddress(a); err == nil {
		a = addr.Address
	}
	return strings.ToLower(strings.Trim(a, "<> "))
}

func routeSubject(pool []*Definition, subject string) *Definition {
	subj := " " + normSubject(subject) + " "
	var best *Definition
	bestLen := 0
	for _, d := range pool {
		for _, kw := range d.c.kw {
			// The longest keyword found wins: "deferred resignation" beats "designation".
			if strings.Contains(subj, " "+kw+" ") && len(kw) > bestLen {
				best, bestLen = d, len(kw)
			}
		}
	}
	return best
}

// routeWorkbook scores each call by the sheets of the attachments that
// carry its signature (counted double) or match its kinds by header.
func routeWorkbook(pool []*Definition, files []Input) *Definition {
	score := make([]int, len(pool))
	for _, f := range files {
		ra, size := f.open()
		if size > DefaultLimits().MaxFileBytes || sheet.SniffReaderAt(ra, size) != nil {
			continue
		}
		for _, sig := range signatures(ra, size) {
			call, _, _ := strings.Cut(sig, "/")
			for i, d := range pool {
				if d.ID == call || (d.Routing.Signature != "" && d.Routing.Signature == call) {
					score[i] += 2
				}
			}
		}
		wb, err := sheet.OpenReaderAt(ra, size, sheet.Limits{MaxPartBytes: 64 << 20, MaxTotalBytes: 128 << 20, MaxRows: 1 << 20,
			MaxColumns: 16384, MaxCellBytes: 1 << 17, MaxStrings: 2_000_000, MaxSheets: 256})
		if err != nil {
			continue
		}
		for _, name := range wb.Sheets() {
			head := headRows(wb, name)
			for i, d := range pool {
				if ck, _, _ := d.c.detect(name, head); ck != nil {
					score[i]++
				}
			}
		}
		wb.Close()
	}
	var best *Definition
	bestScore := 0
	for i, d := range pool {
		if score[i] > bestScore {
			best, bestScore = d, score[i]
		}
	}
	return best
}

func headRows(wb sheet.Workbook, name string) []sheet.Row {
	rows, err := wb.Rows(name)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var head []sheet.Row
	for len(head) < headerSearchRows && rows.Next() {
		head = append(head, rows.Row())
	}
	return head
}

// signatures returns the values of the intake_call defined names of a
// workbook, read from xl/workbook.xml.
func signatures(ra io.ReaderAt, size int64) []string {
	z, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // backslash names, as some producers write
		return nil
	}
	for _, f := range z.File {
		if strings.ReplaceAll(f.Name, `\`, "/") != "xl/workbook.xml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil
		}
		defer rc.Close()
		var wb struct {
			Names []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:",chardata"`
			} `xml:"definedNames>definedName"`
		}
		if err := xml.NewDecoder(io.LimitReader(rc, 4<<20)).Decode(&wb); err != nil {
			return nil
		}
		var out []string
		for _, n := range wb.Names {
			if strings.EqualFold(n.Name, SignatureName) {
				out = append(out, strings.Trim(strings.TrimSpace(n.Value), `"`))
			}
		}
		return out
	}
	return nil
}
