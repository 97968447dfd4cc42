package threadline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/contract"
)

// ErrInvalidActor is wrapped by every error about an invalid ActorRef:
// test for it with errors.Is.
var ErrInvalidActor = errors.New("threadline: invalid actor reference")

// MaxActorRefBytes bounds the JSON text of an actor reference. The database
// ignores (and keeps only for forensics) a threadline.actor_ref setting
// longer than this, so Validate rejects an ActorRef whose canonical
// encoding is longer, and ParseActorRef rejects longer input.
const MaxActorRefBytes = contract.MaxActorRefBytes

// maxActorDocumentBytes bounds the input UnmarshalJSON looks at. It is
// looser than MaxActorRefBytes because an actor embedded in a document (job
// arguments, an export) may be indented; the decoded value must still have
// a canonical encoding of at most MaxActorRefBytes.
const maxActorDocumentBytes = 16 * MaxActorRefBytes

// ActorKind is the kind of an actor: who (or what) did something.
type ActorKind string

// The actor kinds. Every kind but KindAnonymous requires a non-blank ID.
const (
	// KindUser is an end user of the application.
	KindUser ActorKind = "user"
	// KindAdmin is an operator or staff member acting with elevated rights.
	KindAdmin ActorKind = "admin"
	// KindServiceAccount is another service calling this one.
	KindServiceAccount ActorKind = "service_account"
	// KindJob is a background job (its ID is typically the job kind or id).
	KindJob ActorKind = "job"
	// KindSystem is the application itself (migrations, schedulers...).
	KindSystem ActorKind = "system"
	// KindAnonymous is an unauthenticated caller. It has no ID.
	KindAnonymous ActorKind = "anonymous"
)

// ActorKinds lists every valid ActorKind, in documentation order.
func ActorKinds() []ActorKind {
	return []ActorKind{KindUser, KindAdmin, KindServiceAccount, KindJob, KindSystem, KindAnonymous}
}

// Valid reports whether k is one of the actor kinds.
func (k ActorKind) Valid() bool {
	switch k {
	case KindUser, KindAdmin, KindServiceAccount, KindJob, KindSystem, KindAnonymous:
		return true
	}
	return false
}

// ActorRef identifies who performed a change: a kind and, for every kind
// but KindAnonymous, a non-blank string ID.
//
// Its JSON form is an object with exactly the keys "type" and "id"
// ({"type":"user","id":"42"}), or exactly {"type":"anonymous"}. It is the
// value stored in audit_transactions.actor_ref and audit_actions.actor_ref.
// The zero value is invalid.
//
// ActorRef values are comparable with ==.
type ActorRef struct {
	// Kind is the actor kind.
	Kind ActorKind
	// ID identifies the actor within its kind; empty for KindAnonymous.
	ID string
}

// User returns the actor reference of an end user.
func User(id string) ActorRef { return ActorRef{Kind: KindUser, ID: id} }

// Admin returns the actor reference of an administrator.
func Admin(id string) ActorRef { return ActorRef{Kind: KindAdmin, ID: id} }

// ServiceAccount returns the actor reference of a service account.
func ServiceAccount(id string) ActorRef { return ActorRef{Kind: KindServiceAccount, ID: id} }

// Job returns the actor reference of a background job.
func Job(id string) ActorRef { return ActorRef{Kind: KindJob, ID: id} }

// System returns the actor reference of the application itself.
func System(id string) ActorRef { return ActorRef{Kind: KindSystem, ID: id} }

// Anonymous returns the actor reference of an unauthenticated caller.
func Anonymous() ActorRef { return ActorRef{Kind: KindAnonymous} }

// NewActorRef returns the actor reference of the given kind and id, or an
// error wrapping ErrInvalidActor when the pair is invalid (see Validate).
func NewActorRef(kind ActorKind, id string) (ActorRef, error) {
	a := ActorRef{Kind: kind, ID: id}
	if err := a.Validate(); err != nil {
		return ActorRef{}, err
	}
	return a, nil
}

// IsZero reports whether a is the zero ActorRef (no actor at all).
func (a ActorRef) IsZero() bool { return a == ActorRef{} }

// String returns "kind:id", or "anonymous"; it is meant for logs.
func (a ActorRef) String() string {
	if a.Kind == KindAnonymous && a.ID == "" {
		return string(KindAnonymous)
	}
	return string(a.Kind) + ":" + a.ID
}

// Validate reports whether a is a valid actor reference. The rule is the
// database's threadline.actor_ref_valid: a known kind; for every kind but
// anonymous an ID that is valid UTF-8, holds no NUL and is not blank
// (blank: only white space as PostgreSQL's [[:space:]] class defines it in
// a glibc UTF-8 locale); no ID for anonymous. In addition the canonical
// JSON encoding must fit in MaxActorRefBytes, so the database never
// discards an actor that Validate accepted. Errors wrap ErrInvalidActor.
func (a ActorRef) Validate() error {
	if err := a.validateShape(); err != nil {
		return err
	}
	if n := len(a.appendCanonical(nil)); n > MaxActorRefBytes {
		return fmt.Errorf("%w: encoded actor is %d bytes, more than %d", ErrInvalidActor, n, MaxActorRefBytes)
	}
	return nil
}

// validateShape checks the kind and ID rules without the size bound.
func (a ActorRef) validateShape() error {
	switch {
	case a.Kind == KindAnonymous:
		if a.ID != "" {
			return fmt.Errorf("%w: an anonymous actor has no id (got %q)", ErrInvalidActor, a.ID)
		}
		return nil
	case a.Kind == "":
		return fmt.Errorf("%w: missing kind", ErrInvalidActor)
	case !a.Kind.Valid():
		return fmt.Errorf("%w: unknown kind %q (want one of user, admin, service_account, job, system, anonymous)", ErrInvalidActor, string(a.Kind))
	case !utf8.ValidString(a.ID):
		return fmt.Errorf("%w: %s id is not valid UTF-8", ErrInvalidActor, a.Kind)
	case strings.IndexByte(a.ID, 0) >= 0:
		return fmt.Errorf("%w: %s id contains a NUL character", ErrInvalidActor, a.Kind)
	case isBlank(a.ID):
		return fmt.Errorf("%w: %s actor needs a non-blank id", ErrInvalidActor, a.Kind)
	}
	return nil
}

// isBlank reports whether s holds only white space. The set of white space
// runes is the one PostgreSQL's regular expression class [[:space:]]
// matches in a glibc UTF-8 locale (C.UTF-8, en_US.UTF-8): ASCII white
// space and Unicode's breaking spaces, but not U+0085, U+00A0, U+2007 or
// U+202F. A database in the "C" locale only counts ASCII white space, so
// there Go is the stricter side.
func isBlank(s string) bool {
	for _, r := range s {
		if !isSQLSpace(r) {
			return false
		}
	}
	return true
}

// isSQLSpace reports whether r is in PostgreSQL's [[:space:]] (glibc
// UTF-8 locale).
func isSQLSpace(r rune) bool {
	switch {
	case r == ' ', r >= '\t' && r <= '\r':
		return true
	case r == 0x1680, r >= 0x2000 && r <= 0x2006, r >= 0x2008 && r <= 0x200A,
		r == 0x2028, r == 0x2029, r == 0x205F, r == 0x3000:
		return true
	}
	return false
}

// appendCanonical appends the canonical JSON encoding of a (which must
// have passed validateShape) to b: {"type":"user","id":"42"} or
// {"type":"anonymous"}, no spaces, HTML characters not escaped.
func (a ActorRef) appendCanonical(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONStr(b, string(a.Kind))
	if a.Kind != KindAnonymous {
		b = append(b, `,"id":`...)
		b = appendJSONStr(b, a.ID)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, encoded like json.Encoder
// with SetEscapeHTML(false).
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail.
	_ = enc.Encode(s)
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// Canonical returns the canonical JSON encoding of a, the exact text the
// transaction helper publishes in threadline.actor_ref, or an error
// wrapping ErrInvalidActor.
func (a ActorRef) Canonical() (string, error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	return string(a.appendCanonical(nil)), nil
}

// MarshalJSON implements json.Marshaler: the canonical encoding, or an
// error for an invalid reference. (json.Marshal then escapes <, > and & as
// \u003c, \u003e and \u0026 as it does for all output; a json.Encoder with
// SetEscapeHTML(false) keeps the canonical text. Both decode alike.)
func (a ActorRef) MarshalJSON() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a.appendCanonical(nil), nil
}

// UnmarshalJSON implements json.Unmarshaler. It accepts exactly what
// ParseActorRef accepts, except that the input may be indented (the size
// bound applies to the canonical encoding of the result). On error a is
// left unchanged.
func (a *ActorRef) UnmarshalJSON(data []byte) error {
	if len(data) > maxActorDocumentBytes {
		return fmt.Errorf("%w: input is %d bytes", ErrInvalidActor, len(data))
	}
	v, err := decodeActorRef(data)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseActorRef decodes the JSON text of an actor reference with the rule
// of the database function threadline.parse_actor_ref: at most
// MaxActorRefBytes of valid JSON (as PostgreSQL's jsonb reads it: a
// duplicate key keeps its last value, \u0000 and unpaired surrogate
// escapes are rejected) holding an object with exactly "type" and a
// non-blank string "id", or exactly {"type":"anonymous"}. Errors wrap
// ErrInvalidActor; ParseActorRef never panics.
func ParseActorRef(raw []byte) (ActorRef, error) {
	if len(raw) > MaxActorRefBytes {
		return ActorRef{}, fmt.Errorf("%w: input is %d bytes, more than %d", ErrInvalidActor, len(raw), MaxActorRefBytes)
	}
	return decodeActorRef(raw)
}

// decodeActorRef implements ParseActorRef without the input size bound.
func decodeActorRef(data []byte) (ActorRef, error) {
	if !utf8.Valid(data) {
		return ActorRef{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidActor)
	}
	if !json.Valid(data) {
		return ActorRef{}, fmt.Errorf("%w: not valid JSON", ErrInvalidActor)
	}
	if err := checkJSONBEscapes(data); err != nil {
		return ActorRef{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return ActorRef{}, fmt.Errorf("%w: %v", ErrInvalidActor, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ActorRef{}, fmt.Errorf("%w: not a JSON object", ErrInvalidActor)
	}
	// Keys are matched like jsonb does: a later duplicate replaces an
	// earlier one.
	var typeRaw, idRaw json.RawMessage
	var unknown []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ActorRef{}, fmt.Errorf("%w: %v", ErrInvalidActor, err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ActorRef{}, fmt.Errorf("%w: %v", ErrInvalidActor, err)
		}
		switch key {
		case "type":
			typeRaw = v
		case "id":
			idRaw = v
		default:
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		return ActorRef{}, fmt.Errorf("%w: unknown key %q (allowed: type, id)", ErrInvalidActor, unknown[0])
	}
	if typeRaw == nil {
		return ActorRef{}, fmt.Errorf("%w: missing \"type\"", ErrInvalidActor)
	}
	var kind string
	if err := json.Unmarshal(typeRaw, &kind); err != nil || typeRaw[0] != '"' {
		return ActorRef{}, fmt.Errorf("%w: \"type\" is not a string", ErrInvalidActor)
	}
	a := ActorRef{Kind: ActorKind(kind)}
	if a.Kind == KindAnonymous {
		if idRaw != nil {
			return ActorRef{}, fmt.Errorf("%w: an anonymous actor has no \"id\"", ErrInvalidActor)
		}
		return a, nil
	}
	if !a.Kind.Valid() {
		return ActorRef{}, a.validateShape()
	}
	if idRaw == nil {
		return ActorRef{}, fmt.Errorf("%w: %s actor needs an \"id\"", ErrInvalidActor, a.Kind)
	}
	if idRaw[0] != '"' || json.Unmarshal(idRaw, &a.ID) != nil {
		return ActorRef{}, fmt.Errorf("%w: \"id\" is not a string", ErrInvalidActor)
	}
	if err := a.Validate(); err != nil {
		return ActorRef{}, err
	}
	return a, nil
}

// checkJSONBEscapes rejects what valid JSON may hold but PostgreSQL's jsonb
// refuses in a UTF-8 database: the escape \u0000 and unpaired surrogate
// escapes. data must be valid JSON.
func checkJSONBEscapes(data []byte) error {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			i++
			if data[i] != 'u' {
				continue
			}
			r := hex4(data[i+1 : i+5])
			i += 4
			switch {
			case r == 0:
				return fmt.Errorf("%w: \\u0000 is not allowed", ErrInvalidActor)
			case r >= 0xDC00 && r <= 0xDFFF:
				return fmt.Errorf("%w: unpaired surrogate escape", ErrInvalidActor)
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return fmt.Errorf("%w: unpaired surrogate escape", ErrInvalidActor)
				}
				if lo := hex4(data[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
					return fmt.Errorf("%w: unpaired surrogate escape", ErrInvalidActor)
				}
				i += 6
			}
		}
	}
	return nil
}

// hex4 decodes four hexadecimal digits (already checked by json.Valid).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}
