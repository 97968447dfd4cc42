package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

type sealArgs struct {
	json     bool
	headFile string
}

func sealFlags(fs *flag.FlagSet) func(*cli) int {
	var a sealArgs
	fs.BoolVar(&a.json, "json", false, "print the result as JSON (seal, head, snapshot, counts)")
	fs.StringVar(&a.headFile, "head-file", "", "also append the new head, as a JSON line, to `FILE` (record it outside the database)")
	return func(c *cli) int { return c.seal(a) }
}

// seal runs threadline seal: one seal of what committed since the last.
func (c *cli) seal(a sealArgs) int {
	if code, ok := c.setup(); !ok {
		return code
	}
	res, err := c.ops().Seal(c.ctx, c.pool)
	if err != nil {
		return c.fail("%v", err)
	}
	line, err := json.Marshal(struct {
		threadlineops.SealResult
		SealedAt time.Time `json:"sealed_at"`
	}{res, time.Now().UTC()})
	if err != nil {
		return c.fail("%v", err)
	}
	switch {
	case res.Seal == 0:
		fmt.Fprintln(c.stderr, "nothing new committed since the last seal: no seal written")
		if a.json {
			fmt.Fprintln(c.stdout, string(line))
		}
		return 0
	case a.json:
		fmt.Fprintln(c.stdout, string(line))
	default:
		fmt.Fprintf(c.stdout, "sealed %s and %s as seal %d in %s\nhead %s\n",
			plural(res.Transactions, "transaction"), plural(res.Changes, "change"), res.Seal, elapsed(res.Duration), res.Head)
	}
	if a.headFile != "" {
		f, err := os.OpenFile(a.headFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return c.fail("seal %d written, but -head-file: %v (record head %s elsewhere)", res.Seal, err, res.Head)
		}
	}
	return 0
}

type verifyArgs struct {
	json        bool
	head, proof string
	fromSeal    int64
}

func verifyFlags(fs *flag.FlagSet) func(*cli) int {
	var a verifyArgs
	fs.BoolVar(&a.json, "json", false, "print the report as JSON")
	fs.StringVar(&a.head, "head", "", "a head recorded outside the database (hex): it must be in the chain")
	fs.Int64Var(&a.fromSeal, "from-seal", 0, "verify from this seal on")
	fs.StringVar(&a.proof, "proof", "", "check the export -with-proof `FILE` against -head instead, offline (no database)")
	return func(c *cli) int { return c.verify(a) }
}

// verify runs threadline verify; exit 1 names the first problem.
func (c *cli) verify(a verifyArgs) int {
	if a.proof != "" {
		return c.verifyProof(a)
	}
	if code, ok := c.setup(); !ok {
		return code
	}
	p := newProgress(c.stderr, c.env.terminal(c.stderr))
	o := threadlineops.VerifyOptions{Head: a.head, FromSeal: a.fromSeal}
	if p.on {
		o.Progress = func(n int64) { p.draw(fmt.Sprintf("verifying: %s (%s/s)", plural(n, "change"), p.rate(n))) }
	}
	start := time.Now()
	rep, err := c.ops().Verify(c.ctx, c.pool, o)
	p.clear()
	if err != nil && !errors.Is(err, threadlineops.ErrVerifyFailed) {
		return c.fail("%v", err)
	}
	if a.json {
		b, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr != nil {
			return c.fail("%v", jerr)
		}
		fmt.Fprintln(c.stdout, string(b))
	} else {
		for _, pr := range rep.Problems {
			fmt.Fprintln(c.stdout, pr.What)
		}
		purged := ""
		if rep.PurgedChanges > 0 || rep.PurgedTransactions > 0 {
			purged = fmt.Sprintf(" (%s and %s purged by a recorded purge)", plural(rep.PurgedTransactions, "transaction"), plural(rep.PurgedChanges, "change"))
		}
		for _, g := range rep.Gaps {
			fmt.Fprintf(c.stdout, "known gap, not tampering: WAL %s to %s: %s\n", g.From, g.To, gapTimes(g))
		}
		fmt.Fprintf(c.stdout, "verified %s: %s, %s%s in %s; head %s\n", plural(rep.Seals, "seal"),
			plural(rep.Transactions, "transaction"), plural(rep.Changes, "change"), purged, elapsed(time.Since(start)), rep.Head)
		if n := len(rep.Gaps); n > 0 {
			fmt.Fprintf(c.stdout, "%s recorded in %s.audit_wal_gaps: changes committed in them were never captured (not a verify failure; threadline continuity lists them, threadline doctor fails until they are acknowledged)\n",
				plural(int64(n), "capture gap"), c.cfg.AuditSchema)
		}
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "threadline verify: FAILED: %s; the first: %s\n", plural(rep.ProblemCount, "problem"), rep.Problems[0].What)
		return 1
	}
	return 0
}

// verifyProof runs threadline verify -proof FILE -head H: it checks an
// export -with-proof file against a recorded head, without the config or
// the database; exit 1 names the first line that does not check.
func (c *cli) verifyProof(a verifyArgs) int {
	switch {
	case a.head == "":
		return c.usageError("-proof needs -head: the head, recorded outside the database, that the proofs must lead to")
	case a.fromSeal != 0:
		return c.usageError("-from-seal does not apply to -proof")
	}
	f, err := os.Open(a.proof)
	if err != nil {
		return c.fail("%v", err)
	}
	defer f.Close()
	rep, err := threadlineops.CheckProofs(f, a.head)
	switch {
	case errors.Is(err, threadlineops.ErrProofFailed):
		fmt.Fprintf(c.stderr, "threadline verify: FAILED: %s: %s\n", a.proof, strings.TrimPrefix(err.Error(), threadlineops.ErrProofFailed.Error()+": "))
		return 1
	case err != nil:
		return c.fail("%s: %v", a.proof, err)
	case a.json:
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintln(c.stdout, string(b))
	case rep.Changes == 0:
		fmt.Fprintf(c.stdout, "proved 0 changes against head %s (the file holds none)\n", rep.Head)
	default:
		fmt.Fprintf(c.stdout, "proved %s against head %s (seals %d..%d)\n", plural(rep.Changes, "change"), rep.Head, rep.FirstSeal, rep.LastSeal)
	}
	return 0
}
