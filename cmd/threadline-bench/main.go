// Command threadline-bench measures what auditing costs: each workload runs
// unaudited and audited side by side, interleaved over several rounds, and
// prints the median and spread of the audited/unaudited ratio. Workloads
// without an unaudited twin (lookups, export, purge, generation) print
// absolute figures against the targets of the product specification.
//
//	go run ./cmd/threadline-bench            # every workload, full size
//	go run ./cmd/threadline-bench -quick     # small sizes, for CI
//	go run ./cmd/threadline-bench -workloads tpcb,bulk -rounds 7
//	go run ./cmd/threadline-bench wal        # engine: wal vs trigger vs unaudited (cmd/internal/walbench)
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/threadline-go/threadline/cmd/internal/walbench"
	"github.com/threadline-go/threadline/harness/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "wal" {
		// The WAL engine needs wal_level = logical: it runs on a private
		// cluster of its own, all three variants interleaved there.
		code = walbench.Run(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		code = bench.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
