package threadline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/sqltemplates"
)

func TestActorConstructors(t *testing.T) {
	for _, tc := range []struct {
		got  threadline.ActorRef
		want threadline.ActorRef
		text string
	}{
		{threadline.User("42"), threadline.ActorRef{Kind: threadline.KindUser, ID: "42"}, "user:42"},
		{threadline.Admin("a"), threadline.ActorRef{Kind: threadline.KindAdmin, ID: "a"}, "admin:a"},
		{threadline.ServiceAccount("billing"), threadline.ActorRef{Kind: threadline.KindServiceAccount, ID: "billing"}, "service_account:billing"},
		{threadline.Job("nightly"), threadline.ActorRef{Kind: threadline.KindJob, ID: "nightly"}, "job:nightly"},
		{threadline.System("migrator"), threadline.ActorRef{Kind: threadline.KindSystem, ID: "migrator"}, "system:migrator"},
		{threadline.Anonymous(), threadline.ActorRef{Kind: threadline.KindAnonymous}, "anonymous"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %#v, want %#v", tc.got, tc.want)
		}
		if s := tc.got.String(); s != tc.text {
			t.Errorf("String() = %q, want %q", s, tc.text)
		}
		if err := tc.got.Validate(); err != nil {
			t.Errorf("%v: Validate: %v", tc.got, err)
		}
		a, err := threadline.NewActorRef(tc.want.Kind, tc.want.ID)
		if err != nil || a != tc.want {
			t.Errorf("NewActorRef(%q, %q) = %#v, %v", tc.want.Kind, tc.want.ID, a, err)
		}
	}
	if !(threadline.ActorRef{}).IsZero() || threadline.Anonymous().IsZero() {
		t.Error("IsZero")
	}
	if got := len(threadline.ActorKinds()); got != 6 {
		t.Errorf("ActorKinds: %d kinds", got)
	}
}

func TestActorValidate(t *testing.T) {
	long := strings.Repeat("x", threadline.MaxActorRefBytes)
	for _, tc := range []struct {
		name    string
		actor   threadline.ActorRef
		wantErr string // "" when valid
	}{
		{"user", threadline.User("42"), ""},
		{"id with spaces around", threadline.User(" 42 "), ""},
		{"unicode id", threadline.User("zoë@example.com"), ""},
		{"html characters", threadline.User("<a&b>"), ""},
		{"quote and backslash", threadline.User(`a"b\c`), ""},
		{"newline inside", threadline.User("a\nb"), ""},
		{"no-break space counts as text", threadline.User("\u00a0"), ""},
		{"anonymous", threadline.Anonymous(), ""},
		{"zero", threadline.ActorRef{}, "missing kind"},
		{"unknown kind", threadline.ActorRef{Kind: "root", ID: "1"}, `unknown kind "root"`},
		{"uppercase kind", threadline.ActorRef{Kind: "User", ID: "1"}, `unknown kind "User"`},
		{"empty id", threadline.User(""), "needs a non-blank id"},
		{"blank id", threadline.Admin(" \t\r\n"), "needs a non-blank id"},
		{"ideographic space id", threadline.Job("\u3000"), "needs a non-blank id"},
		{"anonymous with id", threadline.ActorRef{Kind: threadline.KindAnonymous, ID: "1"}, "anonymous actor has no id"},
		{"NUL in id", threadline.User("a\x00b"), "NUL"},
		{"invalid UTF-8", threadline.User("a\xffb"), "not valid UTF-8"},
		{"too long", threadline.User(long), "more than 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.actor.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
			if !errors.Is(err, threadline.ErrInvalidActor) {
				t.Fatalf("error %v does not wrap ErrInvalidActor", err)
			}
			if _, err := json.Marshal(tc.actor); err == nil {
				t.Fatal("json.Marshal accepted an invalid actor")
			}
			if _, err := threadline.NewActorRef(tc.actor.Kind, tc.actor.ID); err == nil {
				t.Fatal("NewActorRef accepted an invalid actor")
			}
		})
	}
}

func TestActorJSONCanonical(t *testing.T) {
	for _, tc := range []struct {
		actor threadline.ActorRef
		json  string
	}{
		{threadline.User("42"), `{"type":"user","id":"42"}`},
		{threadline.Anonymous(), `{"type":"anonymous"}`},
		{threadline.ServiceAccount("svc-1"), `{"type":"service_account","id":"svc-1"}`},
		{threadline.User("<a&b>"), `{"type":"user","id":"<a&b>"}`},
		{threadline.User(`a"b\c`), `{"type":"user","id":"a\"b\\c"}`},
		{threadline.User("zoë\n\t"), `{"type":"user","id":"zoë\n\t"}`},
		{threadline.User("x\u2028"), `{"type":"user","id":"x\u2028"}`},
	} {
		b, err := marshalNoHTMLEscape(tc.actor)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", tc.actor, err)
		}
		if string(b) != tc.json {
			t.Errorf("Marshal(%v) = %s, want %s", tc.actor, b, tc.json)
		}
		// json.Marshal escapes <, > and & in any output: same value.
		if h, err := json.Marshal(tc.actor); err != nil {
			t.Errorf("json.Marshal(%v): %v", tc.actor, err)
		} else if back, err := threadline.ParseActorRef(h); err != nil || back != tc.actor {
			t.Errorf("ParseActorRef(%s) = %#v, %v", h, back, err)
		}
		c, err := tc.actor.Canonical()
		if err != nil || c != tc.json {
			t.Errorf("Canonical(%v) = %s, %v", tc.actor, c, err)
		}
		back, err := threadline.ParseActorRef(b)
		if err != nil || back != tc.actor {
			t.Errorf("ParseActorRef(%s) = %#v, %v", b, back, err)
		}
		var un threadline.ActorRef
		if err := json.Unmarshal(b, &un); err != nil || un != tc.actor {
			t.Errorf("Unmarshal(%s) = %#v, %v", b, un, err)
		}
	}

	// Embedded in documents, including indented ones and as a nil pointer.
	type doc struct {
		Actor *threadline.ActorRef `json:"actor,omitempty"`
	}
	b, err := json.Marshal(doc{Actor: &threadline.ActorRef{Kind: threadline.KindJob, ID: "j"}})
	if err != nil || string(b) != `{"actor":{"type":"job","id":"j"}}` {
		t.Fatalf("Marshal doc = %s, %v", b, err)
	}
	var d doc
	if err := json.Unmarshal([]byte("{\n  \"actor\": {\n    \"id\": \"j\",\n    \"type\": \"job\"\n  }\n}"), &d); err != nil || d.Actor == nil || *d.Actor != threadline.Job("j") {
		t.Fatalf("Unmarshal indented doc = %+v, %v", d, err)
	}
	if err := json.Unmarshal([]byte(`{"actor":{"type":"job"}}`), &d); !errors.Is(err, threadline.ErrInvalidActor) {
		t.Fatalf("Unmarshal invalid doc: %v", err)
	}
	// An error leaves the value unchanged.
	a := threadline.User("keep")
	if err := a.UnmarshalJSON([]byte(`{"type":"user"}`)); err == nil || a != threadline.User("keep") {
		t.Fatalf("UnmarshalJSON error path changed the value: %#v, %v", a, err)
	}
}

// actorInputs are raw threadline.actor_ref texts with the expected result
// of ParseActorRef (the zero ActorRef when it must be rejected).
var actorInputs = []struct {
	raw  string
	want threadline.ActorRef
}{
	{`{"type":"user","id":"42"}`, threadline.User("42")},
	{`{"type":"anonymous"}`, threadline.Anonymous()},
	{`{"type":"admin","id":"a"}`, threadline.Admin("a")},
	{`{"type":"service_account","id":"s"}`, threadline.ServiceAccount("s")},
	{`{"type":"job","id":"j"}`, threadline.Job("j")},
	{`{"type":"system","id":"s"}`, threadline.System("s")},
	{`{"id":"42","type":"user"}`, threadline.User("42")},
	{` { "type" : "user" , "id" : "42" } `, threadline.User("42")},
	{"{\n\t\"type\": \"user\",\r\n\t\"id\": \"42\"\n}", threadline.User("42")},
	{`{"type":"user","id":" 42 "}`, threadline.User(" 42 ")},
	{`{"type":"user","id":"\u0034\u0032"}`, threadline.User("42")},
	{`{"type":"\u0075ser","id":"42"}`, threadline.User("42")},
	{`{"type":"user","id":"a\/b"}`, threadline.User("a/b")},
	{`{"type":"user","id":"\ud83d\ude00"}`, threadline.User("😀")},
	{`{"type":"user","id":"😀"}`, threadline.User("😀")},
	{`{"type":"user","id":"a\nb"}`, threadline.User("a\nb")},
	{`{"type":"user","id":"<&>"}`, threadline.User("<&>")},
	{`{"type":"user","id":"\u00a0"}`, threadline.User("\u00a0")},
	// Duplicate keys: the last one wins, as in jsonb.
	{`{"type":"admin","type":"user","id":"42"}`, threadline.User("42")},
	{`{"type":"user","id":1,"id":"42"}`, threadline.User("42")},
	{`{"type":"anonymous","type":"anonymous"}`, threadline.Anonymous()},
	// Rejected.
	{``, threadline.ActorRef{}},
	{` `, threadline.ActorRef{}},
	{`null`, threadline.ActorRef{}},
	{`"user:42"`, threadline.ActorRef{}},
	{`42`, threadline.ActorRef{}},
	{`[]`, threadline.ActorRef{}},
	{`[{"type":"user","id":"42"}]`, threadline.ActorRef{}},
	{`{}`, threadline.ActorRef{}},
	{`{"type":"user"}`, threadline.ActorRef{}},
	{`{"id":"42"}`, threadline.ActorRef{}},
	{`{"type":"user","id":""}`, threadline.ActorRef{}},
	{`{"type":"user","id":"   "}`, threadline.ActorRef{}},
	{`{"type":"user","id":"\t\n\r"}`, threadline.ActorRef{}},
	{`{"type":"user","id":42}`, threadline.ActorRef{}},
	{`{"type":"user","id":null}`, threadline.ActorRef{}},
	{`{"type":"user","id":true}`, threadline.ActorRef{}},
	{`{"type":"user","id":["42"]}`, threadline.ActorRef{}},
	{`{"type":"user","id":{"v":"42"}}`, threadline.ActorRef{}},
	{`{"type":"root","id":"42"}`, threadline.ActorRef{}},
	{`{"type":"User","id":"42"}`, threadline.ActorRef{}},
	{`{"type":" user","id":"42"}`, threadline.ActorRef{}},
	{`{"type":"","id":"42"}`, threadline.ActorRef{}},
	{`{"type":null,"id":"42"}`, threadline.ActorRef{}},
	{`{"type":1,"id":"42"}`, threadline.ActorRef{}},
	{`{"type":["user"],"id":"42"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42","extra":1}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42","name":"x"}`, threadline.ActorRef{}},
	{`{"type":"anonymous","id":"1"}`, threadline.ActorRef{}},
	{`{"type":"anonymous","id":""}`, threadline.ActorRef{}},
	{`{"type":"anonymous","id":null}`, threadline.ActorRef{}},
	{`{"type":"anonymous","x":1}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42"`, threadline.ActorRef{}},
	{`{"type":"user","id":"42"}}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42"} {}`, threadline.ActorRef{}},
	{`{'type':'user','id':'42'}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42",}`, threadline.ActorRef{}},
	{`{"type":"user","id":"a\u0000b"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"\ud800"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"\udc00x"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"\ud800\u0041"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"42","x":"\u0000"}`, threadline.ActorRef{}},
	{"{\"type\":\"user\",\"id\":\"a\tb\"}", threadline.ActorRef{}}, // raw control character
	{"\v{\"type\":\"user\",\"id\":\"42\"}", threadline.ActorRef{}}, // not JSON white space
	{`{"type":"user","id":"` + strings.Repeat("x", threadline.MaxActorRefBytes) + `"}`, threadline.ActorRef{}},
}

// localeDependentInputs are accepted by Go's rule and by PostgreSQL in a
// glibc UTF-8 locale, where [[:space:]] knows Unicode white space; they
// are compared with the database only when it runs in such a locale.
var localeDependentInputs = []struct {
	raw  string
	want threadline.ActorRef
}{
	{`{"type":"user","id":"\u3000"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"` + "\u2003\u2028" + `"}`, threadline.ActorRef{}},
	{`{"type":"user","id":"\u3000x"}`, threadline.User("\u3000x")},
}

func TestParseActorRef(t *testing.T) {
	for _, tc := range append(actorInputs, localeDependentInputs...) {
		got, err := threadline.ParseActorRef([]byte(tc.raw))
		if tc.want.IsZero() {
			if err == nil {
				t.Errorf("ParseActorRef(%s) = %#v, want error", tc.raw, got)
			} else if !errors.Is(err, threadline.ErrInvalidActor) {
				t.Errorf("ParseActorRef(%s): error %v does not wrap ErrInvalidActor", tc.raw, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseActorRef(%s) = %#v, %v; want %#v", tc.raw, got, err, tc.want)
		}
	}
	if _, err := threadline.ParseActorRef([]byte("{\"type\":\"user\",\"id\":\"\xff\"}")); err == nil {
		t.Error("ParseActorRef accepted invalid UTF-8")
	}
	if _, err := threadline.ParseActorRef(nil); err == nil {
		t.Error("ParseActorRef(nil) accepted")
	}
}

// TestActorRuleMatchesSQL checks that ParseActorRef and Validate accept
// exactly what the database's parse_actor_ref and actor_ref_valid accept.
func TestActorRuleMatchesSQL(t *testing.T) {
	db := pgtest.NewDB(t, sqltemplates.Install(threadline.DefaultSchema, sqltemplates.Grants{}, sqltemplates.Storage{})...)
	ctx := context.Background()
	var unicodeSpaces bool
	if err := db.Pool.QueryRow(ctx, `SELECT chr(12288) ~ '[[:space:]]'`).Scan(&unicodeSpaces); err != nil {
		t.Fatal(err)
	}
	inputs := actorInputs
	if unicodeSpaces {
		inputs = append(inputs, localeDependentInputs...)
	} else {
		t.Log("database locale has no Unicode [[:space:]]: locale-dependent inputs not compared")
	}
	for _, tc := range inputs {
		goRef, goErr := threadline.ParseActorRef([]byte(tc.raw))
		var sqlParsed *string
		if err := db.Pool.QueryRow(ctx, `SELECT threadline.parse_actor_ref($1)::text`, tc.raw).Scan(&sqlParsed); err != nil {
			t.Fatalf("parse_actor_ref(%s): %v", tc.raw, err)
		}
		if (goErr == nil) != (sqlParsed != nil) {
			t.Errorf("%s: Go accepts=%v (%v), SQL accepts=%v", tc.raw, goErr == nil, goErr, sqlParsed != nil)
			continue
		}
		if goErr == nil {
			// Same value: the Go canonical form equals the SQL result.
			canon, err := goRef.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			var same bool
			if err := db.Pool.QueryRow(ctx, `SELECT $1::jsonb = $2::jsonb`, *sqlParsed, canon).Scan(&same); err != nil || !same {
				t.Errorf("%s: SQL parsed %s, Go parsed %s (%v)", tc.raw, *sqlParsed, canon, err)
			}
			// The database's text output decodes too.
			var back threadline.ActorRef
			if err := json.Unmarshal([]byte(*sqlParsed), &back); err != nil || back != goRef {
				t.Errorf("Unmarshal(%s) = %#v, %v", *sqlParsed, back, err)
			}
		}
		// actor_ref_valid on the jsonb value, when it is valid jsonb.
		var valid *bool
		err := db.Pool.QueryRow(ctx, `SELECT threadline.actor_ref_valid($1::text::jsonb)`, tc.raw).Scan(&valid)
		if err == nil && valid != nil && len(tc.raw) <= threadline.MaxActorRefBytes && *valid != (goErr == nil) {
			t.Errorf("%s: actor_ref_valid=%v, Go accepts=%v", tc.raw, *valid, goErr == nil)
		}
	}

	// Every actor Validate accepts is written by InTx in canonical form:
	// the database must accept it (through the regex fast path or not),
	// and must reject what Validate rejects.
	refs := []threadline.ActorRef{
		threadline.User("42"), threadline.Anonymous(), threadline.User(`a"b\c`), threadline.User("<&>"),
		threadline.User("zoë"), threadline.User("a\nb"), threadline.User("x\u2028"), threadline.User(" 1 "),
		threadline.User(strings.Repeat("x", threadline.MaxActorRefBytes-len(`{"type":"user","id":""}`))),
		threadline.User(""), threadline.User("  "), threadline.User("\t"), threadline.ActorRef{Kind: "root", ID: "1"},
		threadline.ActorRef{Kind: threadline.KindAnonymous, ID: "x"}, threadline.ActorRef{},
		threadline.User(strings.Repeat("x", threadline.MaxActorRefBytes)),
	}
	for _, a := range refs {
		vErr := a.Validate()
		// Encode like a careless writer would, without validation.
		m := map[string]string{"type": string(a.Kind)}
		if a.Kind != threadline.KindAnonymous || a.ID != "" {
			m["id"] = a.ID
		}
		text, _ := json.Marshal(m)
		if vErr == nil {
			c, _ := a.Canonical()
			text = []byte(c)
		}
		var ok bool
		if err := db.Pool.QueryRow(ctx, `SELECT threadline.parse_actor_ref($1) IS NOT NULL`, string(text)).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok != (vErr == nil) {
			t.Errorf("%#v: Validate=%v, SQL accepts %s: %v", a, vErr, text, ok)
		}
	}
}

// TestMalformedActorSettingNeverAbortsWrite sets malformed
// threadline.actor_ref values with raw SQL: the write succeeds, the value
// is kept in actor_ref_invalid only, and it never decodes as an actor.
func TestMalformedActorSettingNeverAbortsWrite(t *testing.T) {
	db := capturetest.Setup(t, `CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL);`, "  orders: {}\n")
	ctx := context.Background()
	huge := `{"type":"user","id":"` + strings.Repeat("x", 5000) + `"}`
	values := []string{
		`not json`,
		`{"type":"user"}`,
		`{"type":"root","id":"1"}`,
		`{"type":"user","id":"  "}`,
		`{"type":"user","id":42}`,
		`{"type":"user","id":"1","extra":true}`,
		`{"type":"anonymous","id":"x"}`,
		`[{"type":"user","id":"1"}]`,
		`{"type":"user","id":"\u0000"}`,
		huge,
	}
	for i, v := range values {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('threadline.actor_ref', $1, true), set_config('threadline.attribution_tx', `+contract.TxStartSQL+`, true)`, v); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'n')`, i); err != nil {
			t.Fatalf("write with actor_ref %.40q aborted: %v", v, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Pool.Query(ctx, `SELECT actor_ref::text, actor_ref_invalid FROM threadline.audit_transactions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var actor, invalid *string
		if err := rows.Scan(&actor, &invalid); err != nil {
			t.Fatal(err)
		}
		want := values[i]
		if len(want) > threadline.MaxActorRefBytes {
			want = want[:threadline.MaxActorRefBytes]
		}
		if actor != nil || invalid == nil || *invalid != want {
			t.Errorf("value %d: actor_ref=%v actor_ref_invalid=%.60v, want NULL and %.60q", i, actor, invalid, want)
		}
		if invalid != nil {
			if a, err := threadline.ParseActorRef([]byte(*invalid)); err == nil {
				t.Errorf("value %d: ParseActorRef(actor_ref_invalid) = %#v, want an error", i, a)
			}
			var a threadline.ActorRef
			if err := json.Unmarshal([]byte(*invalid), &a); err == nil {
				t.Errorf("value %d: Unmarshal(actor_ref_invalid) = %#v, want an error", i, a)
			}
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(values) {
		t.Fatalf("%d transactions, want %d", i, len(values))
	}
	if n := capturetest.Count(t, db, "audit_changes"); n != len(values) {
		t.Fatalf("%d changes, want %d", n, len(values))
	}
}

func FuzzParseActorRef(f *testing.F) {
	for _, tc := range actorInputs {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range localeDependentInputs {
		f.Add([]byte(tc.raw))
	}
	f.Add([]byte(`{"type":"user","id":"\ud83d\ude00","type":"job"}`))
	f.Add([]byte("{\"type\":\"user\",\"id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := threadline.ParseActorRef(raw)
		var u threadline.ActorRef
		uErr := u.UnmarshalJSON(raw)
		if err != nil {
			if !errors.Is(err, threadline.ErrInvalidActor) {
				t.Fatalf("error %v does not wrap ErrInvalidActor", err)
			}
			if uErr == nil && len(raw) <= threadline.MaxActorRefBytes {
				t.Fatalf("UnmarshalJSON accepted %q that ParseActorRef rejected: %v", raw, err)
			}
			return
		}
		if uErr != nil || u != a {
			t.Fatalf("UnmarshalJSON(%q) = %#v, %v; ParseActorRef = %#v", raw, u, uErr, a)
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted %q but Validate: %v", raw, err)
		}
		enc, err := marshalNoHTMLEscape(a)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", a, err)
		}
		canon, _ := a.Canonical()
		if string(enc) != canon {
			t.Fatalf("Marshal = %s, Canonical = %s", enc, canon)
		}
		// Canonical: exactly {"type":...,"id":...} or {"type":"anonymous"}.
		if !bytes.HasPrefix(enc, []byte(`{"type":"`+string(a.Kind)+`"`)) {
			t.Fatalf("not canonical: %s", enc)
		}
		again, err := threadline.ParseActorRef(enc)
		if err != nil || again != a {
			t.Fatalf("re-parse of %s = %#v, %v; want %#v", enc, again, err, a)
		}
		enc2, _ := marshalNoHTMLEscape(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encode %s != %s", enc2, enc)
		}
	})
}

// marshalNoHTMLEscape encodes v like json.Marshal without HTML escaping.
func marshalNoHTMLEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
