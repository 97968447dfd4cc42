package generator

import (
	"testing"

	"github.com/threadline-go/threadline/schema"
)

func TestSimilarTables(t *testing.T) {
	var s schema.Schema
	for _, n := range [][2]string{
		{"app", "users"}, {"billing", "invoices"}, {"public", "invoice_lines"}, {"public", "orders"},
		{"public", "user"}, {"public", "user_roles"}, {"public", "users"}, {"public", "usrs"}, {"public", "Users"},
	} {
		s.Tables = append(s.Tables, &schema.Table{QualifiedName: schema.QualifiedName{Schema: n[0], Name: n[1]}})
	}
	parent := schema.QualifiedName{Schema: "public", Name: "orders"}
	s.Tables = append(s.Tables, &schema.Table{QualifiedName: schema.QualifiedName{Schema: "public", Name: "order"}, PartitionOf: &parent})
	for _, c := range []struct {
		schema, name, want string
	}{
		// Closest first (a case difference counts for nothing), then in
		// name order, at most three.
		{"public", "userz", ` (did you mean public.Users, public.user or public.users?)`},
		{"public", "invoices", ` (did you mean billing.invoices?)`},
		{"public", "ordrs", ` (did you mean public.orders?)`}, // never a partition
		{"public", "customers", ``},
		{"app", "user", ` (did you mean app.users, public.user or public.Users?)`},
	} {
		got := similarTables(&s, schema.QualifiedName{Schema: c.schema, Name: c.name})
		if got != c.want {
			t.Errorf("%s.%s: %q, want %q", c.schema, c.name, got, c.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"", "abc", 3}, {"users", "users", 0}, {"userz", "users", 1}, {"kitten", "sitting", 3}, {"ünï", "uni", 2}} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
