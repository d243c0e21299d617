package fail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"testing"
)

func TestKindOf(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, 0},
		{"unclassified", base, KindExternal},
		{"unclassified os error", &fs.PathError{Op: "open", Path: "x", Err: os.ErrNotExist}, KindExternal},
		{"refused", Refused(base), KindRefused},
		{"usage", Usage(base), KindUsage},
		{"external", External(base), KindExternal},
		{"refusedf", Refusedf("push refused: %d problem(s)", 2), KindRefused},
		{"usagef", Usagef("bad %s", "flag"), KindUsage},
		{"externalf", Externalf("git: %w", base), KindExternal},
		{"already reported", AlreadyReported(KindRefused, "2 problems"), KindRefused},
		{"wrapped by fmt", fmt.Errorf("checking: %w", Usage(base)), KindUsage},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", Refused(base))), KindRefused},
		{"joined", errors.Join(errors.New("other"), Usage(base)), KindUsage},
		// The outermost classification wins: code that knows more wraps
		// last.
		{"reclassified", Usage(External(base)), KindUsage},
		{"canceled", context.Canceled, KindInterrupted},
		{"canceled wrapped", fmt.Errorf("git fetch: %w", context.Canceled), KindInterrupted},
		// A cancellation is an interruption even inside a classified error:
		// Ctrl-C during a child must exit 130, not 3.
		{"canceled inside external", External(fmt.Errorf("wrangler deploy: %w", context.Canceled)), KindInterrupted},
		{"canceled inside refused", Refused(context.Canceled), KindInterrupted},
		{"deadline is not an interruption", External(context.DeadlineExceeded), KindExternal},
		{"bare deadline", context.DeadlineExceeded, KindExternal},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("%s: KindOf(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestWrapKeepsTheError(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "guard.toml", Err: os.ErrPermission}
	for _, wrap := range []func(error, ...string) error{Refused, Usage, External} {
		err := wrap(base, "hint")
		if err.Error() != base.Error() {
			t.Errorf("Error() = %q, want the wrapped %q", err.Error(), base.Error())
		}
		if !errors.Is(err, os.ErrPermission) {
			t.Error("errors.Is does not reach the wrapped error")
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe != base {
			t.Error("errors.As does not reach the wrapped error")
		}
		if wrap(nil, "hint") != nil {
			t.Error("wrapping nil is not nil")
		}
	}
	if err := AlreadyReported(KindUsage, "summary"); err.Error() != "summary" {
		t.Errorf("AlreadyReported = %q", err)
	} else {
		var e *Error
		if !errors.As(err, &e) || !e.Reported || e.Kind != KindUsage {
			t.Errorf("AlreadyReported = %#v", err)
		}
	}
	var e *Error
	if err := Refused(errors.New("x")); !errors.As(err, &e) || e.Reported {
		t.Errorf("an ordinary refusal is marked reported: %#v", err)
	}
}

func TestHintsOf(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"nil", nil, nil},
		{"unclassified", base, nil},
		{"no hints", Usage(base), nil},
		{"one level", Usage(base, "a", "b"), []string{"a", "b"}},
		{"nested classified", External(Usage(base, "inner"), "outer"), []string{"outer", "inner"}},
		{"through fmt wrapping", fmt.Errorf("ctx: %w", Refused(fmt.Errorf("mid: %w", External(base, "deep")), "top")), []string{"top", "deep"}},
		{"three levels", Refused(Usage(External(base, "3"), "2"), "1"), []string{"1", "2", "3"}},
		{"formatted", fmt.Errorf("x: %w", Usagef("bad")), nil},
	} {
		if got := HintsOf(tc.err); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: HintsOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
