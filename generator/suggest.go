package generator

import (
	"fmt"
	"sort"
	"strings"

	"github.com/threadline-go/threadline/schema"
)

// maxTableHints is how many near table names a "not found" error lists.
const maxTableHints = 3

// similarTables suggests the tables of s whose names are closest to q's:
// at most maxTableHints, by edit distance between the lower-cased names
// (a table in another schema one step further), within a third of the
// name's length (at least 2); ties in name order.
func similarTables(s *schema.Schema, q schema.QualifiedName) string {
	type hint struct {
		name string
		dist int
	}
	limit := max(2, len([]rune(q.Name))/3)
	var hints []hint
	for _, t := range s.Tables {
		if t.QualifiedName == q || t.PartitionOf != nil {
			continue
		}
		d := editDistance(strings.ToLower(q.Name), strings.ToLower(t.Name))
		if t.Schema != q.Schema {
			d++
		}
		if d <= limit {
			hints = append(hints, hint{t.QualifiedName.String(), d})
		}
	}
	if len(hints) == 0 {
		return ""
	}
	sort.Slice(hints, func(i, j int) bool {
		if hints[i].dist != hints[j].dist {
			return hints[i].dist < hints[j].dist
		}
		return hints[i].name < hints[j].name
	})
	names := make([]string, 0, maxTableHints)
	for _, h := range hints[:min(len(hints), maxTableHints)] {
		names = append(names, h.name)
	}
	if len(names) == 1 {
		return fmt.Sprintf(" (did you mean %s?)", names[0])
	}
	return fmt.Sprintf(" (did you mean %s or %s?)", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
