package generator

import "strings"

// TableRecords exposes to the external tests the threadline:table records
// of a generated file's header, each joined from its continuation lines.
func TableRecords(content string) []string {
	var out []string
	for _, n := range readNotes(content) {
		if rec, ok := strings.CutPrefix(n, noteTable); ok {
			out = append(out, rec)
		}
	}
	return out
}
