package threadline

import (
	"bytes"
	"encoding/json"
	"time"
)

// DiffSchemaVersion is the schema_version of the ChangeDiff JSON shape.
// It changes only when the shape changes incompatibly.
const DiffSchemaVersion = 1

// Kinds of FieldDiff.
const (
	// FieldSet is a field an insert set (after only).
	FieldSet = "set"
	// FieldChanged is a field an update changed (before and after).
	FieldChanged = "changed"
	// FieldRemoved is a field of a row a delete removed (before only).
	FieldRemoved = "removed"
)

// ChangeDiff is a JSON-ready, field-by-field view of one change, for user
// interfaces and reports. Its JSON shape is stable and versioned by
// schema_version (DiffSchemaVersion, currently 1):
//
//	{
//	  "schema_version": 1,
//	  "change_id": 42,
//	  "transaction_id": 7,
//	  "schema": "public",
//	  "table": "users",
//	  "op": "update",
//	  "pk": {"id": 1},
//	  "captured_at": "2026-01-02T03:04:05.123456Z",
//	  "prior_omitted": false,
//	  "fields": [
//	    {"field": "display_name", "kind": "changed", "before": "Ada", "after": "Ada L."},
//	    {"field": "email", "kind": "changed", "before": "[REDACTED]", "after": "[REDACTED]"}
//	  ]
//	}
//
// Per op:
//
//   - insert: one "set" field per column of the stored row image, with
//     "after";
//   - update: one "changed" field per changed column (changed_fields
//     order, which is sorted) with "before" from changed_from and "after"
//     from the new row image; when the prior values were not stored
//     (store_changed_from off) "before" is absent and the field, and the
//     diff, carry "prior_omitted": true — the prior state is omitted, not
//     null; a changed excluded column is listed with "hidden": true and
//     neither "before" nor "after" (the fact is recorded, never a value);
//   - delete: one "removed" field per column of the deleted row image,
//     with "before";
//   - truncate: no fields ("fields": []); "pk" is null.
//
// "pk_before" is present only for an update that changed the key. Fields
// of insert and delete are sorted by name. Values are the stored JSON:
// masked columns hold the placeholder, excluded columns never appear. A
// JSON null value (a NULL column) is written as null, which is distinct
// from an absent "before"/"after".
type ChangeDiff struct {
	// SchemaVersion is DiffSchemaVersion.
	SchemaVersion int             `json:"schema_version"`
	ChangeID      int64           `json:"change_id"`
	TransactionID int64           `json:"transaction_id"`
	Schema        string          `json:"schema"`
	Table         string          `json:"table"`
	Op            Op              `json:"op"`
	PK            json.RawMessage `json:"pk"`
	PKBefore      json.RawMessage `json:"pk_before,omitempty"`
	CapturedAt    time.Time       `json:"captured_at"`
	// PriorOmitted is true for an update whose prior values were not
	// stored.
	PriorOmitted bool        `json:"prior_omitted"`
	Fields       []FieldDiff `json:"fields"`
}

// FieldDiff is one field of a ChangeDiff.
type FieldDiff struct {
	// Field is the column name.
	Field string `json:"field"`
	// Kind is FieldSet, FieldChanged or FieldRemoved.
	Kind string `json:"kind"`
	// Before is the prior value (changed, removed); absent when unknown.
	Before json.RawMessage `json:"before,omitempty"`
	// After is the new value (set, changed).
	After json.RawMessage `json:"after,omitempty"`
	// PriorOmitted is true when the prior value of a changed field was
	// not stored.
	PriorOmitted bool `json:"prior_omitted,omitempty"`
	// Hidden is true for a changed field whose values are recorded
	// nowhere (an excluded column): the change is a fact, its values are
	// not. Before and After are then absent.
	Hidden bool `json:"hidden,omitempty"`
}

// DiffChange returns the field-by-field diff of c. A stored row image or
// changed_from that does not decode as a JSON object is an error, a
// *DecodeError naming the part ("after", "before" or "changed_from"), and
// the diff then has no fields: the values are recorded, so they are never
// reported hidden or not stored because they could not be read. Show the
// stored text (c.After, c.Before, c.ChangedFrom) instead. PostgreSQL
// stores jsonb nested up to thousands of levels deeper than Go's decoder
// reads (10000), so a value a writer set can cause this.
func DiffChange(c Change) (ChangeDiff, error) {
	d := ChangeDiff{
		SchemaVersion: DiffSchemaVersion,
		ChangeID:      c.ID,
		TransactionID: c.TransactionID,
		Schema:        c.Schema,
		Table:         c.Table,
		Op:            c.Op,
		PK:            compact(c.PK),
		PKBefore:      compact(c.PKBefore),
		CapturedAt:    c.CapturedAt,
		Fields:        []FieldDiff{},
	}
	if d.PK == nil {
		d.PK = json.RawMessage("null")
	}
	fail := func(part string, err error) (ChangeDiff, error) {
		d.Fields = []FieldDiff{}
		return d, &DecodeError{ChangeID: c.ID, Part: part, Err: err}
	}
	switch c.Op {
	case OpInsert:
		after, err := object(c.After)
		if err != nil {
			return fail("after", err)
		}
		for _, k := range sortedKeys(after) {
			d.Fields = append(d.Fields, FieldDiff{Field: k, Kind: FieldSet, After: compact(after[k])})
		}
	case OpDelete:
		before, err := object(c.Before)
		if err != nil {
			return fail("before", err)
		}
		for _, k := range sortedKeys(before) {
			d.Fields = append(d.Fields, FieldDiff{Field: k, Kind: FieldRemoved, Before: compact(before[k])})
		}
	case OpUpdate:
		after, err := object(c.After)
		if err != nil {
			return fail("after", err)
		}
		from, err := object(c.ChangedFrom)
		if err != nil {
			return fail("changed_from", err)
		}
		for _, k := range c.ChangedFields {
			v, ok := after[k]
			if !ok {
				// Changed, but not in the image: an excluded column.
				d.Fields = append(d.Fields, FieldDiff{Field: k, Kind: FieldChanged, Hidden: true})
				continue
			}
			f := FieldDiff{Field: k, Kind: FieldChanged, After: compact(v)}
			if v, ok := from[k]; ok {
				f.Before = compact(v)
			} else {
				f.PriorOmitted = true
				d.PriorOmitted = true
			}
			d.Fields = append(d.Fields, f)
		}
	}
	return d, nil
}

// object decodes a stored JSON object; SQL NULL (nil) and JSON null are
// nil, anything else that is not an object an error.
func object(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// compact returns raw without insignificant white space (nil stays nil).
func compact(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
