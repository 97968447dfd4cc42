package generator

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// atlasSum computes atlas.sum for the top-level .sql files of a migrations
// directory, the way Atlas does (ariga.io/atlas/sql/migrate.NewHashFile):
// files in name order; each file's hash is a running SHA-256 over every
// earlier file's name and content plus its own; the first line sums all
// (name, hash) pairs.
func atlasSum(files map[string][]byte) []byte {
	var names []string
	for p := range files {
		if strings.HasSuffix(p, ".sql") && !strings.Contains(p, "/") {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	running := sha256.New()
	total := sha256.New()
	var lines strings.Builder
	for _, n := range names {
		running.Write([]byte(n))
		running.Write(files[n])
		h := base64.StdEncoding.EncodeToString(running.Sum(nil))
		total.Write([]byte(n))
		total.Write([]byte(h))
		fmt.Fprintf(&lines, "%s h1:%s\n", n, h)
	}
	return []byte("h1:" + base64.StdEncoding.EncodeToString(total.Sum(nil)) + "\n" + lines.String())
}
