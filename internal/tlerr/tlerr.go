// Package tlerr wraps the errors of the runtime packages (threadline and
// threadlineops) in one form: "threadline: <op>: <cause>".
package tlerr

import (
	"fmt"
	"strings"
)

// errPrefix starts every error message of the package.
const errPrefix = "threadline: "

// Wrap returns err annotated with the operation that failed, as
// "threadline: <op>: <err>". A "threadline: " prefix of err itself is
// dropped from the message, so errors wrapped on the way out of nested
// calls read "threadline: transaction: record action "x": invalid action:
// blank name" rather than repeating the package name; errors.Is and
// errors.As see err unchanged.
func Wrap(err error, op string, args ...any) error {
	if len(args) > 0 {
		op = fmt.Sprintf(op, args...)
	}
	return &opError{op: op, err: err}
}

// opError is an error of the operation op.
type opError struct {
	op  string
	err error
}

// Error renders the operation and the cause under one prefix.
func (e *opError) Error() string {
	return errPrefix + e.op + ": " + strings.TrimPrefix(e.err.Error(), errPrefix)
}

// Unwrap returns the cause.
func (e *opError) Unwrap() error { return e.err }
