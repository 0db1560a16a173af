//go:build race

package sheet_test

// raceEnabled: the race detector slows excelize's reading tenfold, so
// the corpus comparison of number formats leaves out the large workbooks
// (the run without it reads them all).
const raceEnabled = true
