package sqlfile

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/schema"
)

// TestParity applies testdata/parity.sql to a real database and to the
// offline loader: both loaders must build the same model.
func TestParity(t *testing.T) {
	const fixture = "testdata/parity.sql"
	sql, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDB(t, string(sql))
	live, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{})
	if err != nil {
		t.Fatalf("LoadLive: %v", err)
	}
	offline, err := LoadFiles([]string{fixture})
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	if !reflect.DeepEqual(live, offline) {
		t.Errorf("live and offline models differ:\n%s", diffModels(t, live, offline))
	}
	// The same schema as pg_dump writes it (ALTER TABLE ONLY, ATTACH
	// PARTITION, identity added by ALTER TABLE, qualified names, psql
	// \restrict lines), restored into another database.
	checkDumpParity(t, "testdata/parity_dump.sql")
	for name, s := range map[string]*schema.Schema{"live": live, "offline": offline} {
		t.Run(name, func(t *testing.T) { checkParityFacts(t, s) })
	}
}

// checkDumpParity restores a pg_dump file and compares LoadLive on it with
// LoadFiles of it. (A dump does not always recreate the original exactly:
// pg_dump lists an inheritance child's own columns after all inherited
// ones, so it is compared with its own restore, not with parity.sql.)
func checkDumpParity(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDB(t, upSection(string(raw))) // drops the psql meta-commands
	live, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{})
	if err != nil {
		t.Fatalf("LoadLive(restored dump): %v", err)
	}
	offline, err := LoadFiles([]string{path})
	if err != nil {
		t.Fatalf("LoadFiles(%s): %v", path, err)
	}
	if !reflect.DeepEqual(live, offline) {
		t.Errorf("%s: live and offline models differ:\n%s", path, diffModels(t, live, offline))
	}
}

// diffModels renders the tables, enums and domains that differ as a line
// diff of their JSON forms.
func diffModels(t *testing.T, live, offline *schema.Schema) string {
	var b strings.Builder
	show := func(what string, l, o any) {
		lj, _ := json.MarshalIndent(l, "", "  ")
		oj, _ := json.MarshalIndent(o, "", "  ")
		if string(lj) != string(oj) {
			b.WriteString("=== " + what + " (- live, + offline)\n")
			b.WriteString(lineDiff(strings.Split(string(lj), "\n"), strings.Split(string(oj), "\n")))
		}
	}
	names := map[schema.QualifiedName]bool{}
	for _, tb := range append(slices.Clone(live.Tables), offline.Tables...) {
		names[tb.QualifiedName] = true
	}
	sorted := slices.SortedFunc(maps.Keys(names), func(a, b schema.QualifiedName) int { return strings.Compare(a.String(), b.String()) })
	for _, q := range sorted {
		show("table "+q.String(), live.Table(q), offline.Table(q))
	}
	show("enums", live.Enums, offline.Enums)
	show("domains", live.Domains, offline.Domains)
	if b.Len() == 0 {
		b.WriteString("(JSON renderings are equal; difference in nil vs empty slices)")
	}
	return b.String()
}

// lineDiff is a small LCS line diff showing changed lines with one line of
// context.
func lineDiff(a, b []string) string {
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
	var out []string
	var marks []bool
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out, marks = append(out, "  "+a[i]), append(marks, false)
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out, marks = append(out, "+ "+b[j]), append(marks, true)
			j++
		default:
			out, marks = append(out, "- "+a[i]), append(marks, true)
			i++
		}
	}
	var sb strings.Builder
	for k, line := range out {
		near := marks[k] || (k > 0 && marks[k-1]) || (k+1 < len(marks) && marks[k+1])
		if near {
			sb.WriteString(line + "\n")
		}
	}
	return sb.String()
}

func qn(s, n string) schema.QualifiedName { return schema.QualifiedName{Schema: s, Name: n} }

func mustTable(t *testing.T, s *schema.Schema, q schema.QualifiedName) *schema.Table {
	t.Helper()
	tb := s.Table(q)
	if tb == nil {
		t.Fatalf("table %s missing", q)
	}
	return tb
}

func mustColumn(t *testing.T, tb *schema.Table, name string) *schema.Column {
	t.Helper()
	c := tb.Column(name)
	if c == nil {
		t.Fatalf("column %s.%s missing", tb.QualifiedName, name)
	}
	return c
}

// checkParityFacts asserts a few exact facts of the parity fixture.
func checkParityFacts(t *testing.T, s *schema.Schema) {
	if got := mustTable(t, s, qn("public", "memberships")).PrimaryKey; !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("memberships PK = %v, want [b a]", got)
	}
	if got := mustTable(t, s, qn("public", "pk_via_index")).PrimaryKey; !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("pk_via_index PK = %v, want [b a]", got)
	}
	if got := mustTable(t, s, qn("public", "no_pk_anymore")); got.PrimaryKey != nil || !got.Column("id").NotNull {
		t.Errorf("no_pk_anymore: PK %v, id NOT NULL %v; want no PK, NOT NULL kept", got.PrimaryKey, got.Column("id").NotNull)
	}
	checkPartitions(t, s)
	checkUserTypes(t, s)
	checkColumns(t, s)
	for _, q := range []schema.QualifiedName{
		qn("public", "dropped"), qn("public", "scratch_temp"), qn("scratch", "t"),
		qn("public", "old_name"), qn("public", "moving"), qn("old_schema", "thing"), qn("public", "user_copy"),
	} {
		if s.Table(q) != nil {
			t.Errorf("table %s should be absent", q)
		}
	}
	for _, q := range []schema.QualifiedName{
		qn("public", "new_name"), qn("billing", "moving"), qn("new_schema", "thing"), qn("reporting", "daily"),
		qn("Other Schema", "Mixed Case Table"), qn("public", "with space"), qn("public", "mixedunquoted"),
		qn("public", "a_table_name_that_is_far_too_long_for_postgres_identifiers_to_k"),
	} {
		mustTable(t, s, q)
	}
}

func checkPartitions(t *testing.T, s *schema.Schema) {
	events := mustTable(t, s, qn("public", "events"))
	if !events.Partitioned || events.PartitionOf != nil {
		t.Errorf("events: Partitioned %v PartitionOf %v", events.Partitioned, events.PartitionOf)
	}
	var parts []string
	for _, p := range s.Partitions(events.QualifiedName) {
		parts = append(parts, p.Name)
		if !slices.Equal(p.PrimaryKey, []string{"id", "occurred_at"}) {
			t.Errorf("%s PK = %v", p.Name, p.PrimaryKey)
		}
		if c := mustColumn(t, p, "id"); c.Identity != "" || !c.NotNull {
			t.Errorf("%s.id: identity %q not null %v; want no identity, NOT NULL", p.Name, c.Identity, c.NotNull)
		}
		mustColumn(t, p, "source")
		mustColumn(t, p, "body")
	}
	if want := []string{"events_2024", "events_2025", "events_2026", "events_default"}; !slices.Equal(parts, want) {
		t.Errorf("partitions of events = %v, want %v", parts, want)
	}
	sub := mustTable(t, s, qn("public", "events_2026_h1"))
	if sub.PartitionOf == nil || *sub.PartitionOf != qn("public", "events_2026") {
		t.Errorf("events_2026_h1 PartitionOf = %v", sub.PartitionOf)
	}
	if old := mustTable(t, s, qn("public", "events_old")); old.PartitionOf != nil || old.PrimaryKey == nil {
		t.Errorf("detached events_old: PartitionOf %v PK %v", old.PartitionOf, old.PrimaryKey)
	}
	if c := mustColumn(t, events, "kind_upper"); !c.Generated {
		t.Errorf("events.kind_upper not generated")
	}
	if c := mustColumn(t, events, "id"); c.Identity != "always" {
		t.Errorf("events.id identity = %q", c.Identity)
	}
}

func checkUserTypes(t *testing.T, s *schema.Schema) {
	mood := s.Enum(qn("public", "mood"))
	if mood == nil || !slices.Equal(mood.Labels, []string{"sad", "meh", "fine", "happy", "ecstatic", "angry"}) {
		t.Errorf("mood = %+v", mood)
	}
	if s.Enum(qn("billing", "invoice_status")) == nil || s.Enum(qn("billing", "moving_enum")) == nil || s.Enum(qn("public", "gone")) != nil {
		t.Errorf("enum renames/moves/drops not applied: %+v", s.Enums)
	}
	var small *schema.Domain
	for _, d := range s.Domains {
		if d.QualifiedName == qn("public", "small_positive") {
			small = d
		}
	}
	if small == nil || small.Base != (schema.Type{Schema: "pg_catalog", Name: "int4"}) || !small.NotNull {
		t.Errorf("small_positive = %+v", small)
	}
}

func checkColumns(t *testing.T, s *schema.Schema) {
	users := mustTable(t, s, qn("public", "users"))
	want := map[string]schema.Type{
		"age":      {Schema: "pg_catalog", Name: "int4", Domain: &schema.QualifiedName{Schema: "public", Name: "small_positive"}},
		"ages":     {Schema: "pg_catalog", Name: "int4", ArrayDims: 1, Domain: &schema.QualifiedName{Schema: "public", Name: "positive_int"}},
		"moods":    {Schema: "public", Name: "mood", ArrayDims: 1, Enum: true},
		"feel":     {Schema: "public", Name: "mood", Enum: true, Domain: &schema.QualifiedName{Schema: "public", Name: "mood_d"}},
		"lucky":    {Schema: "pg_catalog", Name: "int4", ArrayDims: 1, Domain: &schema.QualifiedName{Schema: "public", Name: "int_list"}},
		"email":    {Schema: "public", Name: "citext", Domain: &schema.QualifiedName{Schema: "public", Name: "email"}},
		"handle":   {Schema: "pg_catalog", Name: "varchar"},
		"small":    {Schema: "pg_catalog", Name: "numeric"},
		"id":       {Schema: "pg_catalog", Name: "int8"},
		"initials": {Schema: "pg_catalog", Name: "bpchar"},
	}
	for name, typ := range want {
		if got := mustColumn(t, users, name).Type; !reflect.DeepEqual(got, typ) {
			t.Errorf("users.%s type = %+v, want %+v", name, got, typ)
		}
	}
	for _, gone := range []string{"nickname", "tmp", "gone_col"} {
		if users.Column(gone) != nil {
			t.Errorf("users.%s should be gone", gone)
		}
	}
	counters := mustTable(t, s, qn("public", "counters"))
	for col, identity := range map[string]string{"id": "by default", "always_id": "always", "later_id": "by default", "was_identity": ""} {
		if got := mustColumn(t, counters, col).Identity; got != identity {
			t.Errorf("counters.%s identity = %q, want %q", col, got, identity)
		}
	}
	if !mustColumn(t, counters, "doubled").Generated || mustColumn(t, counters, "was_generated").Generated {
		t.Errorf("counters generated columns wrong")
	}
	if c := mustColumn(t, counters, "m"); !c.NotNull || c.Type.Name != "int4" {
		t.Errorf("counters.m (serial) = %+v", c)
	}
	camel := mustTable(t, s, qn("public", "CamelCase"))
	mustColumn(t, camel, "select")
	mustColumn(t, camel, "Display Name")
}

// TestWithoutSchemasMatchesLiveExclusion checks that filtering the offline
// model gives what LoadLive gives with ExcludeSchemas.
func TestWithoutSchemasMatchesLiveExclusion(t *testing.T) {
	sql := `
CREATE SCHEMA threadline;
CREATE TYPE threadline.op AS ENUM ('insert', 'update');
CREATE DOMAIN threadline.txid AS bigint;
CREATE TABLE threadline.audit_changes (id bigint PRIMARY KEY, op threadline.op);
CREATE TABLE public.keep (id int PRIMARY KEY, op threadline.op, t threadline.txid);`
	db := pgtest.NewDB(t, sql)
	live, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{ExcludeSchemas: []string{"threadline"}})
	if err != nil {
		t.Fatal(err)
	}
	offline, err := LoadFiles([]string{writeSQL(t, "x.sql", sql)})
	if err != nil {
		t.Fatal(err)
	}
	if got := offline.WithoutSchemas("threadline"); !reflect.DeepEqual(live, got) {
		t.Errorf("models differ:\n%s", diffModels(t, live, got))
	}
}
