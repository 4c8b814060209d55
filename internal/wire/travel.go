package wire

import (
	"fmt"
	"reflect"
)

// A shared object (a queue, a lock, a value in shared memory...) travels
// in a spawn argument as the text form of its handle: its package gives it
// MarshalText and UnmarshalText (in its travel.go) built on HandleText and
// BindText, so that every codec (gob, JSON) carries it, and spawn shares
// the regions its handle names. The child decodes it bound.

// HandleText is the MarshalText of an object whose handle is h: h's text
// form. A zero handle (an object placed inside another's block, with no
// handle of its own) cannot travel: ErrEncode, saying what.
func HandleText[H interface {
	comparable
	String() string
}](h H, what string) ([]byte, error) {
	var zero H
	if h == zero {
		return nil, fmt.Errorf("%s has no handle of its own (placed with an At function): "+
			"pass the handle of the block it lives in: %w", what, ErrEncode)
	}
	return []byte(h.String()), nil
}

// BindText is the UnmarshalText of an object: it parses the handle's text
// form, opens the object with open and makes *dst that object. dst is the
// zero value a codec allocated.
func BindText[H, T any](text []byte, dst *T, parse func(string) (H, error), open func(H) (*T, error)) error {
	h, err := parse(string(text))
	if err != nil {
		return err
	}
	src, err := open(h)
	if err != nil {
		return err
	}
	// A copy through reflect: the objects carry noCopy markers for vet,
	// but a freshly opened one is not shared with anything yet.
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
	return nil
}
