package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/forkless-go/forkless/internal/errs"
)

// MaxKeys bounds the sentinel keys an ErrorBody carries (a reader refuses
// more as malformed).
const MaxKeys = 64

// ErrorBody is an error or a panic of a function that ran in another
// process, as it travels: spawn's response frame and the pool's item
// records both carry one, after a status byte of their own that says
// whether it is an error or a panic (Panicked is not encoded: the status
// is).
type ErrorBody struct {
	Message  string   // the error's text, or the panic value printed
	Type     string   // the Go type of the error or panic value, like "*fs.PathError"
	Stack    string   // the stack at the panic; "" for an error
	Keys     []string // the registered sentinels in the error's tree (errs.Keys)
	Panicked bool
}

// BodyOf describes err, a function's returned error.
func BodyOf(err error) ErrorBody {
	keys := append(errs.Keys(err), TypedKeys(err)...)
	return ErrorBody{Message: err.Error(), Type: fmt.Sprintf("%T", err), Keys: keys}
}

// PanicBody describes v, a recovered panic value, with the stack where it
// was recovered. A panic with an error value keeps that error's sentinels.
func PanicBody(v any, stack []byte) ErrorBody {
	b := ErrorBody{Message: fmt.Sprint(v), Type: fmt.Sprintf("%T", v), Stack: string(stack), Panicked: true}
	if err, ok := v.(error); ok {
		b.Keys = append(errs.Keys(err), TypedKeys(err)...)
	}
	return b
}

// Sentinels returns the errors named by the body's keys that this process
// knows, typed values included: what the rebuilt error unwraps to.
func (b ErrorBody) Sentinels() []error { return Rebuild(b.Keys) }

// Rebuild returns the errors keys name that this process knows: the
// registered sentinels (errs.Rebuild) and the typed values (RebuildTyped).
func Rebuild(keys []string) []error { return append(errs.Rebuild(keys), RebuildTyped(keys)...) }

// AppendErrorBody appends b: message, type and stack (each length-prefixed),
// then the number of keys and each key.
func AppendErrorBody(dst []byte, b ErrorBody) []byte {
	dst = AppendString(dst, b.Message)
	dst = AppendString(dst, b.Type)
	dst = AppendString(dst, b.Stack)
	dst = binary.AppendUvarint(dst, uint64(len(b.Keys)))
	for _, k := range b.Keys {
		dst = AppendString(dst, k)
	}
	return dst
}

// ErrorBody reads what AppendErrorBody wrote. Panicked is left false: the
// caller's status byte says it.
func (r *Reader) ErrorBody() ErrorBody {
	var b ErrorBody
	b.Message, b.Type, b.Stack = r.String(), r.String(), r.String()
	n := r.Uvarint(MaxKeys)
	for range n {
		k := r.Bytes()
		if r.err != nil {
			break
		}
		b.Keys = append(b.Keys, string(k))
	}
	return b
}
