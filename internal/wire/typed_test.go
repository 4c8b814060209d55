package wire

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

type stockErr struct{ Left int }

func (e *stockErr) Error() string { return fmt.Sprint("left ", e.Left) }

type unencodableErr struct{ f func() }

func (unencodableErr) Error() string { return "no fields" }

func TestTypedErrorKeys(t *testing.T) {
	RegisterErrorType(reflect.TypeFor[*stockErr]())
	RegisterErrorType(reflect.TypeFor[*stockErr]()) // twice: harmless
	RegisterErrorType(reflect.TypeFor[unencodableErr]())
	err := fmt.Errorf("wrap: %w", errors.Join(&stockErr{Left: 4}, unencodableErr{}))
	b := BodyOf(err)
	var got *stockErr
	if !errors.As(errors.Join(b.Sentinels()...), &got) || got.Left != 4 {
		t.Fatalf("rebuilt %v from keys %q", b.Sentinels(), b.Keys)
	}
	if n := len(RebuildTyped([]string{"value:nope=x", "value:" + typeName(reflect.TypeFor[*stockErr]()) + "=garbage"})); n != 0 {
		t.Fatalf("%d errors from unknown or corrupt keys", n)
	}
}
