package sqlfile

import (
	"context"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/schema"
)

// TestDifferentialDDL applies random sequences of ddlPool statements to
// PostgreSQL and to the offline loader. Statements PostgreSQL rejects are
// skipped by both; the offline loader must accept every other one, and
// the models must match after each sequence. THREADLINE_DIFF_RUNS raises
// the number of sequences (default 12), THREADLINE_DIFF_SEED changes them.
func TestDifferentialDDL(t *testing.T) {
	runs := 12
	if n, err := strconv.Atoi(os.Getenv("THREADLINE_DIFF_RUNS")); err == nil {
		runs = n
	}
	seed, _ := strconv.ParseUint(os.Getenv("THREADLINE_DIFF_SEED"), 10, 64)
	db := pgtest.NewDB(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, seed))
	for run := range runs {
		db.Exec(t, "DROP SCHEMA IF EXISTS s CASCADE; DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; CREATE SCHEMA s")
		l := newLoader()
		var applied []string
		for range 60 {
			stmt := ddlPool[rng.IntN(len(ddlPool))]
			if _, err := db.Pool.Exec(ctx, stmt); err != nil {
				continue
			}
			applied = append(applied, stmt)
			if err := l.loadFile("seq.sql", stmt+";"); err != nil {
				t.Fatalf("run %d: PostgreSQL accepted but offline rejected %q: %v\nsequence:\n%s", run, stmt, err, strings.Join(applied, ";\n"))
			}
		}
		live, err := schema.LoadLive(ctx, db.Pool, schema.LiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if offline := l.schema(); !reflect.DeepEqual(live, offline) {
			t.Fatalf("run %d: models differ after:\n%s;\n\n%s", run, strings.Join(applied, ";\n"), diffModels(t, live, offline))
		}
	}
}
