package threadlineui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// parseTemplates parses every page template with the layout.
func parseTemplates(now func() time.Time) map[string]*template.Template {
	funcs := template.FuncMap{
		"rel": func(t time.Time) string { return relTime(now(), t) },
		"abs": absTime,
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"val": formatValue,
	}
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, p))
	}
	return out
}

// relTime renders t relative to now: "just now", "5 min ago", "3 days
// ago", "in 2 h" (a clock ahead of this one).
func relTime(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	case d < 60*24*time.Hour:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	case d < 2*365*24*time.Hour:
		s = fmt.Sprintf("%d months", int(d.Hours()/24/30))
	default:
		s = fmt.Sprintf("%d years", int(d.Hours()/24/365))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// absTime renders t in UTC to the millisecond.
func absTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// value is a JSON value prepared for display.
type value struct {
	Text string
	// Kind is "null", "string", "number", "bool", "object", "array" or
	// "absent" (a prior value that was not stored).
	Kind string
}

// formatValue renders a stored JSON value: strings without quotes,
// everything else as compact JSON.
func formatValue(raw json.RawMessage) value {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return value{Kind: "absent", Text: "not stored"}
	}
	switch t[0] {
	case 'n':
		return value{Kind: "null", Text: "NULL"}
	case '"':
		var s string
		if json.Unmarshal(t, &s) == nil {
			return value{Kind: "string", Text: s}
		}
	case 't', 'f':
		return value{Kind: "bool", Text: string(t)}
	case '{', '[':
		var b bytes.Buffer
		if json.Compact(&b, t) == nil {
			t = b.Bytes()
		}
		kind := "object"
		if t[0] == '[' {
			kind = "array"
		}
		return value{Kind: kind, Text: string(t)}
	}
	return value{Kind: "number", Text: string(t)}
}

// links builds the viewer's URLs.
type links struct{ prefix string }

func (l links) home() string     { return l.prefix + "/" }
func (l links) coverage() string { return l.prefix + "/coverage" }

func (l links) timeline(q url.Values) string { return withQuery(l.prefix+"/changes", q) }

func (l links) table(schema, name string) string {
	return l.timeline(url.Values{"table": {tableText(schema, name)}})
}

func (l links) row(table string, key json.RawMessage, extra url.Values) string {
	q := url.Values{"table": {table}, "key": {compactKey(key)}}
	for k, v := range extra {
		q[k] = v
	}
	return withQuery(l.prefix+"/row", q)
}

func (l links) actions(q url.Values) string { return withQuery(l.prefix+"/actions", q) }

func (l links) tx(id int64) string { return l.prefix + "/tx/" + strconv.FormatInt(id, 10) }

func (l links) actor(a threadline.ActorRef) string {
	return l.actorPage(url.Values{"actor": {a.String()}})
}

func (l links) actorPage(q url.Values) string { return withQuery(l.prefix+"/actor", q) }

func (l links) export(format string, q url.Values) string {
	return withQuery(l.prefix+"/export."+format, q)
}

// tableText is a table name in Filter.Table form.
func tableText(schema, name string) string {
	return contract.QualifiedName{Schema: schema, Name: name}.Text()
}

// compactKey renders a stored key as compact JSON text.
func compactKey(key json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, key) != nil {
		return string(key)
	}
	return b.String()
}

// changeView is one change as the templates show it.
type changeView struct {
	threadline.Change
	TableName string
	TableURL  string
	Key       string
	KeyBefore string
	RowURL    string
	TxURL     string
	// Seal is the seal state of the change's transaction; nil when the
	// trail was never sealed or the page does not show it.
	Seal      *sealBadge
	ActorText string
	ActorURL  string
	Diff      threadline.ChangeDiff
	// Undecodable is set when the diff failed: a stored value did not
	// decode, and the page shows its stored text instead.
	Undecodable *undecodable
	// Summary names the fields of the diff, for one-line lists.
	Summary string
	// ActionURL lists the actions of the change's action name (the
	// Actions page); "" without an action.
	ActionURL string
	// RequestURL and CorrelationURL list the changes of the request id
	// and of the correlation id of the change's transaction; "" when
	// unset.
	RequestURL, CorrelationURL string
}

// maxRawBytes bounds the stored text a page shows of a value it could
// not decode.
const maxRawBytes = 4096

// undecodable is a stored value the viewer could not decode (Go's JSON
// decoder reads at most 10000 levels of nesting; PostgreSQL stores more).
// The page says so and shows the stored text: the value is recorded, and
// is never shown as excluded or not stored.
type undecodable struct {
	// Column is the audit column that holds the value ("data_after").
	Column string
	// Err is the decoder's error.
	Err string
	// ChangedFields lists what an update changed.
	ChangedFields string
	// Text is the start of the stored text, Shown its length and Total
	// the whole text's, in bytes.
	Text         string
	Shown, Total int
}

// Truncated reports whether Text is only the start of the stored text.
func (u *undecodable) Truncated() bool { return u.Shown < u.Total }

// newUndecodable describes stored text raw of the column that failed to
// decode with err, keeping at most maxRawBytes of it (cut at a character
// boundary).
func newUndecodable(column string, raw []byte, err error) *undecodable {
	n := min(len(raw), maxRawBytes)
	for n < len(raw) && n > 0 && !utf8.RuneStart(raw[n]) {
		n--
	}
	return &undecodable{Column: column, Err: err.Error(), Text: string(raw[:n]), Shown: n, Total: len(raw)}
}

// undecodableChange describes the part of c that DiffChange could not
// decode.
func undecodableChange(c threadline.Change, err error) *undecodable {
	column, raw := "data_after", c.After
	var de *threadline.DecodeError
	if errors.As(err, &de) {
		switch de.Part {
		case "before":
			column, raw = "data_before", c.Before
		case "changed_from":
			column, raw = "changed_from", c.ChangedFrom
		}
		err = de.Err
	}
	u := newUndecodable(column, raw, err)
	u.ChangedFields = strings.Join(c.ChangedFields, ", ")
	return u
}

// viewChange prepares c for display.
func (l links) viewChange(c threadline.Change) changeView {
	v := changeView{Change: c, TableName: tableText(c.Schema, c.Table), TxURL: l.tx(c.TransactionID)}
	var err error
	if v.Diff, err = threadline.DiffChange(c); err != nil {
		v.Undecodable = undecodableChange(c, err)
	}
	v.TableURL = l.table(c.Schema, c.Table)
	if c.PK != nil {
		v.Key = compactKey(c.PK)
		v.RowURL = l.row(v.TableName, c.PK, nil)
	}
	if c.PKBefore != nil {
		v.KeyBefore = compactKey(c.PKBefore)
	}
	switch {
	case c.Actor != nil:
		v.ActorText, v.ActorURL = c.Actor.String(), l.actor(*c.Actor)
	case c.ActorInvalid != "":
		v.ActorText = "invalid actor setting"
	}
	if c.Action != nil {
		v.ActionURL = l.actions(url.Values{"name": {c.Action.Name}})
	}
	if c.RequestID != "" {
		v.RequestURL = l.timeline(url.Values{"request_id": {c.RequestID}})
	}
	if c.CorrelationID != "" {
		v.CorrelationURL = l.timeline(url.Values{"correlation_id": {c.CorrelationID}})
	}
	names := make([]string, 0, len(v.Diff.Fields))
	for _, f := range v.Diff.Fields {
		names = append(names, f.Field)
	}
	if v.Undecodable != nil {
		v.Summary = "stored value not decodable"
	} else if c.Op == threadline.OpUpdate {
		v.Summary = strings.Join(names, ", ")
	} else if len(names) > 0 {
		v.Summary = strconv.Itoa(len(names)) + " fields"
	}
	return v
}

func (l links) viewChanges(cs []threadline.Change) []changeView {
	out := make([]changeView, len(cs))
	for i, c := range cs {
		out[i] = l.viewChange(c)
	}
	return out
}

// field is one column of a row image.
type field struct {
	Name  string
	Value value
}

// rowFields lists the columns of a row image, sorted by name. An image
// that does not decode is an error.
func rowFields(raw json.RawMessage) ([]field, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make([]field, 0, len(m))
	for k, v := range m {
		out = append(out, field{Name: k, Value: formatValue(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
