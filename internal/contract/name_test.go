package contract

import (
	"strings"
	"testing"
)

func TestTableNameParsing(t *testing.T) {
	cases := map[string]QualifiedName{
		"users":                    {Schema: "public", Name: "users"},
		"billing.invoices":         {Schema: "billing", Name: "invoices"},
		`"my.schema"."odd""name"`:  {Schema: "my.schema", Name: `odd"name`},
		`"Users"`:                  {Schema: "public", Name: "Users"},
		"Users":                    {Schema: "public", Name: "Users"}, // no case folding
		`"My Schema".invoices`:     {Schema: "My Schema", Name: "invoices"},
		`public."a.b"`:             {Schema: "public", Name: "a.b"},
		"Ünïcödé rows":             {Schema: "public", Name: "Ünïcödé rows"},
		strings.Repeat("t", 63):    {Schema: "public", Name: strings.Repeat("t", 63)},
		`"""".x`:                   {Schema: `"`, Name: "x"},
		"public.My Table With Sp_": {Schema: "public", Name: "My Table With Sp_"},
	}
	for in, want := range cases {
		got, err := ParseQualifiedName(in, "public")
		if err != nil || got != want {
			t.Errorf("ParseQualifiedName(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		// The rendered form parses back to the same name.
		back, err := ParseQualifiedName(got.Text(), "public")
		if err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v %v", in, got.Text(), back, err)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	q := QualifiedName{Schema: "public", Name: "users"}
	if got := ParseFingerprint(CaptureComment(q, "sha256:0123")); got != "sha256:0123" {
		t.Errorf("ParseFingerprint of a capture comment = %q", got)
	}
	if got := ParseFingerprint("something else; fingerprint sha256:0123"); got != "" {
		t.Errorf("ParseFingerprint of a foreign comment = %q", got)
	}
}
