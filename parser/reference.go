package parser

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// Paths of the reference tables inside the directory LoadReference reads.
const (
	AgenciesPath = "derived/agency_subelements.csv" // agy,agy_name,agysub,agysub_name,... (OPM FedScope)
	PayPlansPath = "derived/pay_plans.csv"          // pay_plan,name_2020,... (OPM FedScope)
	DomainsPath  = "dotgov/current-federal.csv"     // Domain name,Domain type,Organization name,... (CISA dotgov-data)
)

// LoadReference reads the three reference tables from fsys at
// AgenciesPath, PayPlansPath and DomainsPath.
func LoadReference(fsys fs.FS) (*Reference, error) {
	var rs []io.Reader
	for _, p := range []string{AgenciesPath, PayPlansPath, DomainsPath} {
		f, err := fsys.Open(p)
		if err != nil {
			return nil, fmt.Errorf("parser: reference: %w", err)
		}
		defer f.Close()
		rs = append(rs, f)
	}
	return ParseReference(rs[0], rs[1], rs[2])
}

// ParseReference reads the agency and sub-agency codes, the pay plans and
// the federal .gov domains from their CSV files (columns found by header
// name). A nil reader leaves that table empty, and an empty table skips
// its checks.
func ParseReference(agencies, payPlans, domains io.Reader) (*Reference, error) {
	ref := &Reference{Agencies: map[string]string{}, SubAgencies: map[string]string{}, PayPlans: map[string]string{}, Domains: map[string]string{}}
	if agencies != nil {
		err := readCSV(agencies, "agency_subelements", []string{"agy", "agy_name", "agysub", "agysub_name"}, func(v []string) {
			if code := strings.ToUpper(strings.TrimSpace(v[0])); code != "" && ref.Agencies[code] == "" {
				ref.Agencies[code] = strings.TrimSpace(v[1])
			}
			if code := strings.ToUpper(strings.TrimSpace(v[2])); code != "" && ref.SubAgencies[code] == "" {
				ref.SubAgencies[code] = strings.TrimSpace(v[3])
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if payPlans != nil {
		err := readCSV(payPlans, "pay_plans", []string{"pay_plan", "name_2020"}, func(v []string) {
			code := strings.ToUpper(strings.TrimSpace(v[0]))
			if code != "" && code != "**" { // "**" is FedScope's "unspecified"
				ref.PayPlans[code] = strings.TrimSpace(v[1])
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if domains != nil {
		err := readCSV(domains, "federal domains", []string{"domain name", "organization name"}, func(v []string) {
			if d := strings.ToLower(strings.TrimSpace(v[0])); d != "" {
				ref.Domains[d] = strings.TrimSpace(v[1])
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return ref, nil
}

// readCSV calls row with the named columns of every record.
func readCSV(r io.Reader, what string, cols []string, row func([]string)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("parser: reference %s: header: %w", what, err)
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, h := range header {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), c) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return fmt.Errorf("parser: reference %s: no column %q", what, c)
		}
	}
	vals := make([]string, len(cols))
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parser: reference %s: line %d: %w", what, line, err)
		}
		for i, j := range idx {
			vals[i] = ""
			if j < len(rec) {
				vals[i] = rec[j]
			}
		}
		row(vals)
	}
}

// Agency returns the agency name of a code, or "".
func (r *Reference) Agency(code string) string {
	if r == nil {
		return ""
	}
	return r.Agencies[strings.ToUpper(code)]
}

// Domain returns the organisation that holds a federal .gov mail domain
// (or the .gov domain it is under, e.g. "ops.dhs.gov" -> dhs.gov), or "".
func (r *Reference) Domain(domain string) string {
	if r == nil {
		return ""
	}
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	for d != "" {
		if org, ok := r.Domains[d]; ok {
			return org
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return ""
}
