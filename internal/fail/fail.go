// Package fail carries guard's exit-code contract through ordinary Go errors.
//
// Code decides what kind of failure happened where it knows (a policy refusal,
// a bad configuration, a failing external tool) by wrapping the error with
// Refused, Usage or External; cmd/guard maps the kind to the documented exit
// code (1, 2, 3) and prints the hints. An unclassified error is treated as an
// external failure (3), because guard's own logic always classifies.
package fail

import (
	"context"
	"errors"
	"fmt"
)

// Kind is the class of a failure, which fixes the exit code.
type Kind int

const (
	KindRefused     Kind = 1   // the policy refused
	KindUsage       Kind = 2   // usage or configuration error
	KindExternal    Kind = 3   // git, wrangler, the Cloudflare API or the OS failed
	KindInterrupted Kind = 130 // SIGINT / SIGTERM
)

// Error is a classified error with optional hints ("guard: hint: ...").
type Error struct {
	Kind  Kind
	Err   error
	Hints []string
	// Reported means the details were already printed (e.g. findings), so
	// main prints only the summary line.
	Reported bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func wrap(k Kind, err error, hints []string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err, Hints: hints}
}

// Refused marks err as a policy refusal (exit 1).
func Refused(err error, hints ...string) error { return wrap(KindRefused, err, hints) }

// Usage marks err as a usage or configuration error (exit 2).
func Usage(err error, hints ...string) error { return wrap(KindUsage, err, hints) }

// External marks err as a failure of an external tool or API (exit 3).
func External(err error, hints ...string) error { return wrap(KindExternal, err, hints) }

// Refusedf is Refused(fmt.Errorf(...)).
func Refusedf(format string, a ...any) error { return Refused(fmt.Errorf(format, a...)) }

// Usagef is Usage(fmt.Errorf(...)).
func Usagef(format string, a ...any) error { return Usage(fmt.Errorf(format, a...)) }

// Externalf is External(fmt.Errorf(...)).
func Externalf(format string, a ...any) error { return External(fmt.Errorf(format, a...)) }

// AlreadyReported returns a refusal whose details were printed by the caller.
func AlreadyReported(k Kind, summary string) error {
	return &Error{Kind: k, Err: errors.New(summary), Reported: true}
}

// KindOf classifies err. Context cancellation is an interruption wherever it
// surfaces, so a Ctrl-C during a child process exits 130, not 3.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		return KindInterrupted
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindExternal
}

// HintsOf collects the hints of every classified error in err's chain.
func HintsOf(err error) []string {
	var out []string
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		out = append(out, e.Hints...)
		err = e.Err
	}
	return out
}

// OrExternal is External for an unclassified err and err itself when the
// code that failed already classified it (a usage error found deep down
// keeps its exit code 2 and its hints).
func OrExternal(err error, hints ...string) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return External(err, hints...)
}
