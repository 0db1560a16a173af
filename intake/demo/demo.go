// Package demo makes the sample mail `intake demo` delivers: agencies'
// submissions to the SES designation review (good, deficient, a corrected
// resubmission, a separate retention request), a forged one and an
// out-of-office reply. Workbooks are written from the data call's own
// definition, as an agency filling the official template would.
package demo

import (
	"bytes"
	"fmt"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/xuri/excelize/v2"

	"intake/parser"
)

// AuthServID is the authserv-id the demo's receiving server stamps on
// Authentication-Results; the demo configuration trusts it.
const AuthServID = "mx.demo.opm.example"

// Agencies of the demo: code, name, mail domain.
var Agencies = []struct{ Code, Name, Domain string }{
	{"HS", "Department of Homeland Security", "dhs.gov"},
	{"TR", "Department of the Treasury", "treasury.gov"},
}

// Sample is one message to deliver, and what the demo expects of it.
type Sample struct {
	Title    string // what it shows
	Raw      []byte
	Answered bool // the sender gets a reply
	Quiet    bool // no reply: forged or automatic
}

type row = map[string]string

// Samples builds the demo's mail to the call's address, dated from start.
func Samples(def *parser.Definition, to string, start time.Time) ([]Sample, error) {
	good := []row{
		{"agency_code": "HS", "component": "HS01", "position_number": "HS-0001", "position_title": "Deputy Under Secretary for Policy", "organization": "Office of Strategy, Policy, and Plans", "designation_2021": "General", "noncareer_majority": "Y", "current_designation": "General", "reversion_status": "Not applicable", "incumbent_type": "Noncareer"},
		{"agency_code": "HS", "component": "HS01", "position_number": "HS-0002", "position_title": "Director, Office of Intelligence Oversight", "organization": "Office of the Secretary", "designation_2021": "General", "noncareer_majority": "N", "current_designation": "Career Reserved", "redesignation_date": "2024-12-02", "reversion_status": "Retention requested", "incumbent_type": "Career"},
		{"agency_code": "HS", "component": "HS02", "position_number": "HS-0003", "position_title": "Associate Administrator for Communications", "organization": "Transportation Security Administration", "designation_2021": "General", "noncareer_majority": "N", "current_designation": "General", "redesignation_date": "2024-11-15", "reversion_status": "Reverted to General", "incumbent_type": "Career"},
	}
	retention := []row{{
		"position_number": "HS-0002", "position_title": "Director, Office of Intelligence Oversight", "ground": "Impartiality",
		"justification": "The director audits the intelligence activities of every component and reports violations to the Inspector General and to Congress; a career incumbent is necessary so that these findings are made, and seen to be made, without regard to political affiliation.",
		"official_name": "Jordan Example", "official_title": "Chief Human Capital Officer", "date": "2025-03-10",
	}}
	bad := []row{
		{"agency_code": "TR", "component": "TR93", "position_number": "TR-0101", "position_title": "Assistant Secretary for Public Affairs", "organization": "Departmental Offices", "designation_2021": "General", "noncareer_majority": "Y", "current_designation": "Career Reserved", "redesignation_date": "2024-12-20", "reversion_status": "In process", "incumbent_type": "Noncareer"},
		{"agency_code": "TR", "component": "TR93", "position_number": "TR-0102", "position_title": "Deputy Assistant Secretary for Legislative Affairs", "organization": "Departmental Offices", "designation_2021": "Generl", "noncareer_majority": "maybe", "current_designation": "Career Reserved", "redesignation_date": "31/13/2024", "reversion_status": "In process", "incumbent_type": "Career"},
		{"agency_code": "TR", "component": "TR93", "position_number": "", "position_title": "Director of Strategic Planning", "organization": "Departmental Offices", "designation_2021": "General", "noncareer_majority": "N", "current_designation": "General", "reversion_status": "Not applicable", "incumbent_type": "Career"},
	}
	fixed := []row{
		{"agency_code": "TR", "component": "TR93", "position_number": "TR-0101", "position_title": "Assistant Secretary for Public Affairs", "organization": "Departmental Offices", "designation_2021": "General", "noncareer_majority": "Y", "current_designation": "General", "redesignation_date": "2024-12-20", "reversion_status": "Reverted to General", "incumbent_type": "Noncareer"},
		{"agency_code": "TR", "component": "TR93", "position_number": "TR-0102", "position_title": "Deputy Assistant Secretary for Legislative Affairs", "organization": "Departmental Offices", "designation_2021": "General", "noncareer_majority": "N", "current_designation": "Career Reserved", "redesignation_date": "2024-12-13", "reversion_status": "In process", "incumbent_type": "Career"},
		{"agency_code": "TR", "component": "TR93", "position_number": "TR-0103", "position_title": "Director of Strategic Planning", "organization": "Departmental Offices", "designation_2021": "General", "noncareer_majority": "N", "current_designation": "General", "reversion_status": "Not applicable", "incumbent_type": "Career"},
	}

	type spec struct {
		title, from, name, subject, file string
		sheets                           map[string][]row
		auth                             string            // dmarc result stamped by the receiving server
		extra                            map[string]string // fields of the sender's
		answered                         bool
	}
	specs := []spec{
		{"DHS: a complete report with a retention request in one workbook", "chco@dhs.gov", "DHS Office of the Chief Human Capital Officer",
			"DHS response: SES position designation review", "DHS SES designation review.xlsx",
			map[string][]row{"position-report": good, "retention-request": retention}, "pass", nil, true},
		{"Treasury: a report with mistakes in several cells", "hr.director@treasury.gov", "Treasury Human Resources",
			"Treasury SES positions report", "Treasury SES report.xlsx",
			map[string][]row{"position-report": bad}, "pass", nil, true},
		{"Treasury: the corrected report", "hr.director@treasury.gov", "Treasury Human Resources",
			"Re: Treasury SES positions report (corrected)", "Treasury SES report v2.xlsx",
			map[string][]row{"position-report": fixed}, "pass", nil, true},
		{"DHS: a second version, one position added", "chco@dhs.gov", "DHS Office of the Chief Human Capital Officer",
			"DHS response v2: SES position designation review", "DHS SES designation review v2.xlsx",
			map[string][]row{"position-report": append(append([]row(nil), good...), row{"agency_code": "HS", "component": "HS04", "position_number": "HS-0005", "position_title": "Chief of Staff", "organization": "Federal Emergency Management Agency", "designation_2021": "General", "noncareer_majority": "Y", "current_designation": "General", "reversion_status": "Not applicable", "incumbent_type": "Career"})}, "pass", nil, true},
		{"A forged message in DHS's name (its own Authentication-Results claim a pass; the receiving server's say DMARC fails): quarantined, no reply", "chco@dhs.gov", "DHS CHCO",
			"URGENT: updated SES report", "report.xlsx",
			map[string][]row{"position-report": good[:1]}, "fail",
			map[string]string{"Authentication-Results": AuthServID + "; dkim=pass header.d=dhs.gov; dmarc=pass header.from=dhs.gov"}, false},
		{"An out-of-office auto-reply: filed, never answered", "hr.director@treasury.gov", "Treasury Human Resources",
			"Automatic reply: Treasury SES positions report", "",
			nil, "pass", map[string]string{"Auto-Submitted": "auto-replied"}, false},
	}
	var out []Sample
	for i, s := range specs {
		m := mail.NewMsg(mail.WithNoDefaultUserAgent())
		if err := m.FromFormat(s.name, s.from); err != nil {
			return nil, err
		}
		if err := m.To(to); err != nil {
			return nil, err
		}
		m.Subject(s.subject)
		m.SetDateWithValue(start.Add(time.Duration(i) * time.Minute))
		m.SetMessageIDWithValue(fmt.Sprintf("demo-%d.%d@%s", i+1, start.Unix(), domainOf(s.from)))
		domain := domainOf(s.from)
		for k, v := range s.extra {
			m.SetGenHeader(mail.Header(k), v)
		}
		if s.sheets == nil {
			m.SetBodyString(mail.TypeTextPlain, "I am out of the office until Monday and will answer your message on my return.")
		} else {
			m.SetBodyString(mail.TypeTextPlain, "Please find our agency's submission attached.\n\nHuman Resources")
			wb, err := Workbook(def, s.sheets)
			if err != nil {
				return nil, err
			}
			if err := m.AttachReader(s.file, bytes.NewReader(wb), mail.WithFileContentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("demo: write sample %d: %w", i+1, err)
		}
		// The receiving server prepends its results above its own
		// Received field; the fields under it are the sender's.
		trace := fmt.Sprintf("Authentication-Results: %s; spf=%s smtp.mailfrom=%s; dkim=%s header.d=%s; dmarc=%s header.from=%s\r\n"+
			"Received: from mail.%s (mail.%s [192.0.2.%d]) by %s with ESMTPS id DEMO%d; %s\r\n",
			AuthServID, s.auth, domain, s.auth, domain, s.auth, domain,
			domain, domain, 10+i, AuthServID, i+1, start.Add(time.Duration(i)*time.Minute+time.Second).Format(time.RFC1123Z))
		out = append(out, Sample{Title: s.title, Raw: append([]byte(trace), buf.Bytes()...), Answered: s.answered})
	}
	return out, nil
}

// Workbook writes one sheet per kind with the definition's official
// headers; date columns get real date cells, as Excel writes them.
func Workbook(def *parser.Definition, sheets map[string][]row) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		return nil, err
	}
	first := true
	for _, k := range def.Kinds {
		rows, ok := sheets[k.ID]
		if !ok {
			continue
		}
		name := k.ID
		if len(k.Sheets) > 0 {
			name = k.Sheets[0]
		}
		if first {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return nil, err
			}
			first = false
		} else if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
		for c, col := range k.Columns {
			cell, _ := excelize.CoordinatesToCellName(c+1, 1)
			if err := f.SetCellStr(name, cell, col.Header); err != nil {
				return nil, err
			}
		}
		for r, values := range rows {
			for c, col := range k.Columns {
				v := values[col.Key]
				if v == "" {
					continue
				}
				cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
				if t, err := time.Parse(time.DateOnly, v); err == nil && col.Type == "date" {
					if err := f.SetCellValue(name, cell, t); err != nil {
						return nil, err
					}
					if err := f.SetCellStyle(name, cell, cell, dateStyle); err != nil {
						return nil, err
					}
					continue
				}
				if err := f.SetCellStr(name, cell, v); err != nil {
					return nil, err
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, fmt.Errorf("demo: write workbook: %w", err)
	}
	return buf.Bytes(), nil
}

func domainOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return addr
}
