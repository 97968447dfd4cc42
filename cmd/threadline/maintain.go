package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

func maintainFlags(fs *flag.FlagSet) func(*cli) int {
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print what was done as JSON")
	return func(c *cli) int { return c.maintain(asJSON) }
}

// maintain runs threadline maintain: partitions made ahead, rows moved out
// of the default partitions.
func (c *cli) maintain(asJSON bool) int {
	if code, ok := c.setup(); !ok {
		return code
	}
	acts, err := c.ops().Maintain(c.ctx, c.pool)
	if err != nil {
		return c.fail("%v", err)
	}
	if asJSON {
		if acts == nil {
			acts = []threadlineops.PartitionAction{} // "actions": [], never null
		}
		b, err := json.Marshal(struct {
			Actions []threadlineops.PartitionAction `json:"actions"`
		}{acts})
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintln(c.stdout, string(b))
		return 0
	}
	for _, a := range acts {
		if a.Action == "moved" {
			fmt.Fprintf(c.stdout, "%s: created %s, moved %s into it from the default partition\n", a.Table, a.Partition, plural(a.Rows, "row"))
			continue
		}
		fmt.Fprintf(c.stdout, "%s: created %s\n", a.Table, a.Partition)
	}
	if len(acts) == 0 {
		fmt.Fprintln(c.stdout, "partitions ready: nothing to do")
	}
	return 0
}
