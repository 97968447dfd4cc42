package generator

import (
	"go/token"
	"strings"
	"testing"
)

func TestGoName(t *testing.T) {
	cases := map[string]string{
		"id":               "ID",
		"created_at":       "CreatedAt",
		"url":              "URL",
		"user_id":          "UserID",
		"userId":           "UserID",
		"userID":           "UserID",
		"api_key":          "APIKey",
		"html_url":         "HTMLURL",
		"HTTPServer":       "HTTPServer",
		"user_ids":         "UserIDs",
		"ips":              "IPs",
		"uuid":             "UUID",
		"json_data":        "JSONData",
		"sql":              "SQL",
		"NAME":             "Name",
		"McDonald":         "McDonald",
		"first name":       "FirstName",
		"e-mail":           "EMail",
		`quote"d`:          "QuoteD",
		"back`tick":        "BackTick",
		"new\nline":        "NewLine",
		"2fa_enabled":      "X2faEnabled",
		"123":              "X123",
		"address2":         "Address2",
		"v2Name":           "V2Name",
		"utf8_text":        "UTF8Text",
		"naïve":            "Naïve",
		"名前":               "X名前",
		"emoji😀col":        "EmojiCol",
		"___":              "X",
		"-":                "X",
		"type":             "Type",
		"func":             "Func",
		"straße":           "Straße",
		"élan":             "Élan",
		"_private":         "Private",
		"a__b":             "AB",
		"x":                "X",
		"customer_cpu_pct": "CustomerCPUPct",
	}
	for in, want := range cases {
		got := goName(in)
		if got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
		if !token.IsIdentifier(got) || !token.IsExported(got) {
			t.Errorf("goName(%q) = %q is not an exported identifier", in, got)
		}
	}
	long := strings.Repeat("ab_", 21) // 63 bytes
	if got := goName(long); got != strings.Repeat("Ab", 21) {
		t.Errorf("goName(63 bytes) = %q", got)
	}
}

func TestGoNameSuffixForEnumLabels(t *testing.T) {
	cases := map[string]string{"draft": "Draft", "in-review": "InReview", "2nd": "2nd", "名前": "名前", "!!": "X", "ACTIVE": "Active"}
	for in, want := range cases {
		if got := goNameSuffix(in); got != want {
			t.Errorf("goNameSuffix(%q) = %q, want %q", in, got, want)
		}
		if !token.IsIdentifier("PostStatus" + goNameSuffix(in)) {
			t.Errorf("PostStatus+%q is not an identifier", in)
		}
	}
}

func TestSingular(t *testing.T) {
	cases := map[string]string{
		"Users":             "User",
		"PostCollaborators": "PostCollaborator",
		"Countries":         "Country",
		"Categories":        "Category",
		"Addresses":         "Address",
		"Boxes":             "Box",
		"Batches":           "Batch",
		"Wishes":            "Wish",
		"Status":            "Status",
		"Analysis":          "Analysis",
		"Address":           "Address",
		"Data":              "Data",
		"Person":            "Person",
		"BillingInvoices":   "BillingInvoice",
		"APIs":              "API",
		"UserIDs":           "UserID",
		"PageViews":         "PageView",
		"S":                 "S",
		"Ies":               "Ies",
	}
	for in, want := range cases {
		if got := singular(in); got != want {
			t.Errorf("singular(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParamName(t *testing.T) {
	cases := map[string]string{
		"ID": "id", "UserID": "userID", "HTTPServer": "httpServer", "X2faEnabled": "x2faEnabled",
		"Type": "type_", "Func": "func_", "Len": "len_", "String": "string_", "Nil": "nil_", "IDs": "ids",
		"X名前": "x名前", "Élan": "élan", "UTF8Text": "utf8Text", "URL": "url", "A": "a",
	}
	for in, want := range cases {
		got := paramName(in)
		if got != want {
			t.Errorf("paramName(%q) = %q, want %q", in, got, want)
		}
		if !token.IsIdentifier(got) || token.IsExported(got) || isGoReserved(got) {
			t.Errorf("paramName(%q) = %q is not a usable unexported identifier", in, got)
		}
	}
}

func TestNameSetCollisions(t *testing.T) {
	n := newNameSet("MarshalJSON")
	got := []string{n.unique("UserID"), n.unique("UserID"), n.unique("UserID"), n.unique("MarshalJSON"), n.unique("UserID_2")}
	want := []string{"UserID", "UserID_2", "UserID_3", "MarshalJSON_2", "UserID_2_2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("unique: %v, want %v", got, want)
	}
	g := newNameSet()
	group := func(s string) func(string) []string {
		return func(sfx string) []string { return []string{s + sfx, s + sfx + "Key"} }
	}
	if sfx := g.uniqueGroup(group("User")); sfx != "" {
		t.Fatalf("first group suffix %q", sfx)
	}
	if sfx := g.uniqueGroup(group("User")); sfx != "_2" {
		t.Fatalf("second group suffix %q", sfx)
	}
	// A group colliding with one member of an earlier group moves as a whole.
	g.unique("PostKey")
	if sfx := g.uniqueGroup(group("Post")); sfx != "_2" {
		t.Fatalf("partial collision suffix %q", sfx)
	}
}

func TestGoFileName(t *testing.T) {
	cases := []struct{ schema, table, want string }{
		{"public", "users", "users"},
		{"billing", "invoices", "billing_invoices"},
		{"public", "Users", "users"},
		{"public", "_private", "private"},
		{"public", ".hidden", "hidden"},
		{"public", "foo_test", "foo_test_table"},
		{"public", "events_linux", "events_linux_table"},
		{"public", "x_amd64", "x_amd64_table"},
		{"public", "linux", "linux"},
		{"public", "Ünïcödé rows", "n_c_d_rows"},
		{"public", "名前", "table"},
		{"My Schema", "odd.name", "my_schema_odd_name"},
		{"public", "123", "123"},
	}
	for _, c := range cases {
		if got := goFileName(c.schema, c.table); got != c.want {
			t.Errorf("goFileName(%q, %q) = %q, want %q", c.schema, c.table, got, c.want)
		}
	}
}

func TestTagName(t *testing.T) {
	for _, ok := range []string{"id", "e-mail", "naïve", "名前", "a.b", "HTTPServer", "x@y"} {
		if !tagName(ok) {
			t.Errorf("tagName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-", "first name", `quote"d`, "back`tick", "comma,col", `back\slash`, "new\nline", "emoji😀col", "a'b"} {
		if tagName(bad) {
			t.Errorf("tagName(%q) = true", bad)
		}
	}
}

func TestCommentNameAndWrap(t *testing.T) {
	if got := commentName("new\nline"); got != `"new\nline"` {
		t.Errorf("commentName = %s", got)
	}
	if got := commentName("public.users"); got != "public.users" {
		t.Errorf("commentName = %s", got)
	}
	lines := wrap("a bb ccc dddd eeeee "+strings.Repeat("x", 30), 10)
	if strings.Join(lines, "|") != "a bb ccc|dddd eeeee|"+strings.Repeat("x", 30) {
		t.Errorf("wrap: %q", lines)
	}
}
