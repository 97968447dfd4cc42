package generator

import (
	"fmt"
	"strings"
)

// Diff renders a unified-style line diff of old and new content of one
// file, with 3 lines of context. An empty old means a new file.
func Diff(path string, oldText, newText string) string {
	a := splitLines(oldText)
	b := splitLines(newText)
	var out strings.Builder
	if oldText == "" {
		fmt.Fprintf(&out, "--- /dev/null\n+++ %s (new file)\n", path)
	} else {
		fmt.Fprintf(&out, "--- %s (on disk)\n+++ %s (generated)\n", path, path)
	}
	ops := lineOps(a, b)
	const ctx = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(0, i-ctx)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(len(ops), end+ctx)
				break
			}
			end = run
		}
		fmt.Fprintf(&out, "@@ lines %d-%d @@\n", start+1, end)
		for _, op := range ops[start:end] {
			out.WriteString(string(op.kind) + op.line + "\n")
		}
		i = end
	}
	return out.String()
}

type lineOp struct {
	kind byte
	line string
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineOps computes an edit script with a longest-common-subsequence table.
// Generated files are small; past a size bound the whole file is shown as
// replaced rather than spending quadratic memory.
func lineOps(a, b []string) []lineOp {
	var ops []lineOp
	if len(a)*len(b) > 4_000_000 {
		for _, l := range a {
			ops = append(ops, lineOp{'-', l})
		}
		for _, l := range b {
			ops = append(ops, lineOp{'+', l})
		}
		return ops
	}
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			ops = append(ops, lineOp{' ', a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, lineOp{'-', a[i]})
			i++
		default:
			ops = append(ops, lineOp{'+', b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		ops = append(ops, lineOp{'-', a[i]})
	}
	for ; j < len(b); j++ {
		ops = append(ops, lineOp{'+', b[j]})
	}
	return ops
}
