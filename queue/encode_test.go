package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

// TestGobCodecEncodeErrorNamesThePart: a value gob cannot carry fails Put
// with ErrEncode (the module's one encoding sentinel) and the path of the
// part to blame, as spawn and shared report it; nothing is queued.
func TestGobCodecEncodeErrorNamesThePart(t *testing.T) {
	type job struct{ Done chan int } // gob skips chan fields: here nothing is left to send
	q, err := queue.NewOf[job](nil, queue.Config{Bytes: 4096}, queue.GobCodec[job]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Region().Close()
	err = q.Put(context.Background(), job{})
	if !errors.Is(err, queue.ErrEncode) || !errors.Is(err, spawn.ErrEncode) || !strings.Contains(err.Error(), "value.Done (chan int)") {
		t.Fatalf("Put = %v, want ErrEncode naming value.Done (chan int)", err)
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after a failed Put", q.Len())
	}
}

// TestGobCodecEncodeErrorWrapsGob: a failure no part of the type explains
// (an interface holding an unregistered type) is ErrEncode with gob's words.
func TestGobCodecEncodeErrorWrapsGob(t *testing.T) {
	type unregistered struct{ X int }
	q, err := queue.NewOf[any](nil, queue.Config{Bytes: 4096}, queue.GobCodec[any]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Region().Close()
	if err := q.Put(context.Background(), unregistered{1}); !errors.Is(err, queue.ErrEncode) || !strings.Contains(err.Error(), "gob") {
		t.Fatalf("Put = %v, want ErrEncode with gob's words", err)
	}
}
