package workbook

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"intake/parser"
)

const (
	instructionsSheet = "Instructions"
	listsSheet        = "Lists"
	lastRow           = 1_048_576 // validations cover whole columns below the header
	maxPrompt         = 255       // Excel's limit on a validation's input message
)

// Template returns the official blank workbook for one kind of a call: a
// sheet named after the kind with the header row (bold, wrapped, frozen),
// column widths, drop-down lists for enum and yes/no columns, date format
// and validation on date columns, whole-number validation on integer
// columns, an Instructions sheet, and the template signature: the
// workbook-level defined name parser.SignatureName whose value is the
// string constant "<call id>/<kind id>", by which the router recognises
// the workbook.
func Template(def *parser.Definition, kind string) ([]byte, error) {
	if def == nil {
		return nil, fmt.Errorf("workbook: template: no data call")
	}
	k := findKind(def, kind)
	if k == nil {
		return nil, fmt.Errorf("workbook: template: call %q has no kind %q", def.ID, kind)
	}
	return buildTemplate(def, []parser.Kind{*k}, def.ID+"/"+k.ID)
}

// TemplateAll returns the official blank workbook for every kind of a call,
// one sheet per kind, with the signature "<call id>".
func TemplateAll(def *parser.Definition) ([]byte, error) {
	if def == nil {
		return nil, fmt.Errorf("workbook: template: no data call")
	}
	if len(def.Kinds) == 0 {
		return nil, fmt.Errorf("workbook: template: call %q has no kinds", def.ID)
	}
	return buildTemplate(def, def.Kinds, def.ID)
}

type templateBuilder struct {
	f      *excelize.File
	def    *parser.Definition
	lists  int // columns used on the Lists sheet
	header int // style ids
	date   int
	text   int
	bold   int
	wrap   int
	title  int
}

func buildTemplate(def *parser.Definition, kinds []parser.Kind, signature string) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	t := &templateBuilder{f: f, def: def}
	if err := t.styles(); err != nil {
		return nil, fmt.Errorf("workbook: template: styles: %w", err)
	}
	names := sheetNames(kinds)
	for i := range kinds {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", names[i]); err != nil {
				return nil, fmt.Errorf("workbook: template: %w", err)
			}
		} else if _, err := f.NewSheet(names[i]); err != nil {
			return nil, fmt.Errorf("workbook: template: %w", err)
		}
	}
	// Sheets first, then contents: the Lists sheet comes after them all.
	for i, k := range kinds {
		if err := t.kindSheet(names[i], k); err != nil {
			return nil, fmt.Errorf("workbook: template: sheet %q: %w", names[i], err)
		}
	}
	if err := t.instructions(kinds, names); err != nil {
		return nil, fmt.Errorf("workbook: template: instructions: %w", err)
	}
	if err := f.SetDefinedName(&excelize.DefinedName{
		Name:     parser.SignatureName,
		RefersTo: `"` + signature + `"`,
		Comment:  "Official template of an OPM data call; used to route the workbook.",
	}); err != nil {
		return nil, fmt.Errorf("workbook: template: signature: %w", err)
	}
	f.SetActiveSheet(0)
	// Fixed document properties: the same definition gives the same bytes.
	if err := f.SetDocProps(&excelize.DocProperties{
		Title:    def.Title,
		Subject:  def.ID,
		Creator:  "intake",
		Created:  "2025-01-01T00:00:00Z",
		Modified: "2025-01-01T00:00:00Z",
	}); err != nil {
		return nil, fmt.Errorf("workbook: template: properties: %w", err)
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		return nil, fmt.Errorf("workbook: template: write: %w", err)
	}
	return out.Bytes(), nil
}

// sheetNames are the kinds' titles made valid and unique as sheet names
// (at most 31 characters, none of []:*?/\).
func sheetNames(kinds []parser.Kind) []string {
	used := map[string]bool{strings.ToLower(instructionsSheet): true, strings.ToLower(listsSheet): true}
	var out []string
	for _, k := range kinds {
		base := cleanSheetName(k.Title)
		if base == "" {
			base = cleanSheetName(k.ID)
		}
		if base == "" {
			base = "Data"
		}
		name := base
		for i := 2; used[strings.ToLower(name)]; i++ {
			suffix := " (" + strconv.Itoa(i) + ")"
			name = truncate(base, 31-len(suffix)) + suffix
		}
		used[strings.ToLower(name)] = true
		out = append(out, name)
	}
	return out
}

func cleanSheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) || r < ' ' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Trim(truncate(s, 31), " '")
	return s
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func (t *templateBuilder) styles() error {
	var err error
	wrapTop := &excelize.Alignment{WrapText: true, Vertical: "top"}
	if t.header, err = t.f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{headerFill}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"},
		Border:    []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
	}); err != nil {
		return err
	}
	dateFmt := "yyyy-mm-dd"
	if t.date, err = t.f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt}); err != nil {
		return err
	}
	// Text format keeps codes such as "0340" or "HS-0001" as typed.
	if t.text, err = t.f.NewStyle(&excelize.Style{NumFmt: 49}); err != nil {
		return err
	}
	if t.bold, err = t.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: wrapTop}); err != nil {
		return err
	}
	if t.wrap, err = t.f.NewStyle(&excelize.Style{Alignment: wrapTop}); err != nil {
		return err
	}
	t.title, err = t.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	return err
}

// kindSheet writes the header and the per-column formats and validations.
func (t *templateBuilder) kindSheet(sheet string, k parser.Kind) error {
	f := t.f
	for i, c := range k.Columns {
		col := parser.ColumnName(i + 1)
		if err := f.SetCellStr(sheet, col+"1", c.Header); err != nil {
			return err
		}
		w := c.Width
		if w <= 0 {
			w = min(max(float64(utf8.RuneCountInString(c.Header))*1.1+2, 12), 40)
		}
		if err := f.SetColWidth(sheet, col, col, w); err != nil {
			return err
		}
		switch c.CellFormat() {
		case parser.FormatDate:
			if err := f.SetColStyle(sheet, col, t.date); err != nil {
				return err
			}
		case parser.FormatText:
			if err := f.SetColStyle(sheet, col, t.text); err != nil {
				return err
			}
		}
		if err := t.validation(sheet, col, c); err != nil {
			return fmt.Errorf("column %q: %w", c.Header, err)
		}
	}
	if n := len(k.Columns); n > 0 {
		last := parser.ColumnName(n) + "1"
		if err := f.SetCellStyle(sheet, "A1", last, t.header); err != nil {
			return err
		}
	}
	if err := f.SetRowHeight(sheet, 1, 45); err != nil {
		return err
	}
	return f.SetPanes(sheet, &excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	})
}

// validation puts the column's data validation (parser.Column.Validation:
// what each column type allows is defined there, once) on its cells below
// the header.
func (t *templateBuilder) validation(sheet, col string, c parser.Column) error {
	v := c.Validation()
	if v.Kind == "" {
		return nil
	}
	dv := excelize.NewDataValidation(!c.Required)
	dv.Sqref = fmt.Sprintf("%s2:%s%d", col, col, lastRow)
	var err error
	switch v.Kind {
	case parser.ValidationList:
		if len(v.List) == 0 {
			return nil
		}
		inline := true
		for _, x := range v.List {
			if strings.ContainsAny(x, `,"`) {
				inline = false
			}
		}
		if !inline || dv.SetDropList(v.List) != nil {
			ref, err := t.list(v.List)
			if err != nil {
				return err
			}
			dv.SetSqrefDropList(ref)
		}
	case parser.ValidationDate:
		err = dv.SetRange(v.Min, v.Max, excelize.DataValidationTypeDate, excelize.DataValidationOperatorBetween)
	case parser.ValidationWhole:
		err = dv.SetRange(int(v.Min), int(v.Max), excelize.DataValidationTypeWhole, excelize.DataValidationOperatorBetween)
	case parser.ValidationDecimal:
		err = dv.SetRange(v.Min, v.Max, excelize.DataValidationTypeDecimal, excelize.DataValidationOperatorBetween)
	case parser.ValidationTextLength:
		err = dv.SetRange(v.Min, v.Max, excelize.DataValidationTypeTextLength, excelize.DataValidationOperatorBetween)
	case parser.ValidationAny:
		// No rule to enforce: only the input message.
	default:
		return fmt.Errorf("unknown validation kind %q", v.Kind)
	}
	if err != nil {
		return err
	}
	if v.Prompt != "" {
		dv.SetInput(truncate(c.Header, 32), truncate(v.Prompt, maxPrompt))
	}
	if v.Error != "" {
		dv.SetError(excelize.DataValidationErrorStyleStop, truncate(c.Header, 32), v.Error)
	}
	return t.f.AddDataValidation(sheet, dv)
}

// list writes values into a new column of the hidden Lists sheet and
// returns the absolute reference of the range, for lists too long (over
// 255 characters) or too odd (commas, quotes) for an inline drop-down.
func (t *templateBuilder) list(vals []string) (string, error) {
	if t.lists == 0 {
		if _, err := t.f.NewSheet(listsSheet); err != nil {
			return "", err
		}
		if err := t.f.SetSheetVisible(listsSheet, false); err != nil {
			return "", err
		}
	}
	t.lists++
	col := parser.ColumnName(t.lists)
	for i, v := range vals {
		if err := t.f.SetCellStr(listsSheet, col+strconv.Itoa(i+1), v); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s!$%s$1:$%s$%d", listsSheet, col, col, len(vals)), nil
}

// instructions writes the Instructions sheet.
func (t *templateBuilder) instructions(kinds []parser.Kind, names []string) error {
	f, s, def := t.f, instructionsSheet, t.def
	if _, err := f.NewSheet(s); err != nil {
		return err
	}
	// Keep Instructions right after the data sheets, before Lists.
	if t.lists > 0 {
		if err := f.MoveSheet(s, listsSheet); err != nil {
			return err
		}
	}
	r := 1
	set := func(cells ...string) error {
		for i, v := range cells {
			if err := f.SetCellStr(s, parser.ColumnName(i+1)+strconv.Itoa(r), v); err != nil {
				return err
			}
		}
		r++
		return nil
	}
	if err := set(def.Title); err != nil {
		return err
	}
	if err := f.SetCellStyle(s, "A1", "A1", t.title); err != nil {
		return err
	}
	r++
	sendTo := "the address that sent you this template"
	if len(def.Routing.Addresses) > 0 {
		sendTo = def.Routing.Addresses[0]
	}
	var sheetList []string
	for i := range kinds {
		sheetList = append(sheetList, `"`+names[i]+`"`)
	}
	facts := [][2]string{
		{"Data call", def.Title},
		{"Source", def.Source},
		{"Deadline", deadlineText(def.Deadline)},
		{"How to submit", "Fill in the sheet" + pluralS(len(kinds)) + " " + strings.Join(sheetList, ", ") +
			", one row per record, starting in row 2. Do not rename the sheets or change the header row. Save as an Excel Workbook (.xlsx) " +
			"and email it as an attachment to " + sendTo + ". You will receive an acknowledgement with a receipt number, " +
			"or a notice listing every cell to correct. To correct a submission, send the whole corrected workbook again: " +
			"the new version replaces the previous one."},
	}
	if def.PII {
		facts = append(facts, [2]string{"Privacy", "This workbook holds personally identifiable information. Send it only to " + sendTo + "."})
	}
	if strings.TrimSpace(def.Instructions) != "" {
		facts = append(facts, [2]string{"Instructions", strings.TrimSpace(def.Instructions)})
	}
	for _, kv := range facts {
		if kv[1] == "" {
			continue
		}
		if err := set(kv[0], kv[1]); err != nil {
			return err
		}
		if err := f.SetCellStyle(s, "A"+strconv.Itoa(r-1), "A"+strconv.Itoa(r-1), t.bold); err != nil {
			return err
		}
		if err := f.SetCellStyle(s, "B"+strconv.Itoa(r-1), "B"+strconv.Itoa(r-1), t.wrap); err != nil {
			return err
		}
	}
	for i, k := range kinds {
		r++
		title := k.Title
		if title == "" {
			title = k.ID
		}
		if err := set("Sheet \"" + names[i] + "\": " + title); err != nil {
			return err
		}
		if err := f.SetCellStyle(s, "A"+strconv.Itoa(r-1), "A"+strconv.Itoa(r-1), t.title); err != nil {
			return err
		}
		if err := set("Column", "Description", "Required", "Type", "Allowed values", "Example"); err != nil {
			return err
		}
		if err := f.SetCellStyle(s, "A"+strconv.Itoa(r-1), "F"+strconv.Itoa(r-1), t.header); err != nil {
			return err
		}
		for _, c := range k.Columns {
			req := "No"
			if c.Required {
				req = "Yes"
			}
			if err := set(c.Header, c.Description, req, c.TypeText(), strings.Join(c.Choices(), "; "), c.Example); err != nil {
				return err
			}
			if err := f.SetCellStyle(s, "A"+strconv.Itoa(r-1), "F"+strconv.Itoa(r-1), t.wrap); err != nil {
				return err
			}
		}
	}
	for i, w := range []float64{30, 70, 10, 22, 40, 22} {
		col := parser.ColumnName(i + 1)
		if err := f.SetColWidth(s, col, col, w); err != nil {
			return err
		}
	}
	return nil
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// deadlineText says when a call is due.
func deadlineText(d parser.Deadline) string {
	zone := d.Zone
	if zone == "" {
		zone = "America/New_York"
	}
	pretty := func(s string) string {
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t.Format("Monday, 2 January 2006")
		}
		return s
	}
	switch {
	case d.Weekly != nil:
		s := "Weekly"
		if d.Weekly.Weekday != "" {
			s += ", due each " + d.Weekly.Weekday
		}
		if d.Weekly.Start != "" {
			s += ", from " + pretty(d.Weekly.Start)
		}
		if d.Weekly.Until != "" {
			s += " until " + pretty(d.Weekly.Until)
		}
		return s + " (end of day, " + zone + " time)"
	case d.Date != "":
		return pretty(d.Date) + " (end of day, " + zone + " time)"
	}
	return ""
}

func findKind(def *parser.Definition, id string) *parser.Kind {
	for i := range def.Kinds {
		if def.Kinds[i].ID == id {
			return &def.Kinds[i]
		}
	}
	return nil
}
