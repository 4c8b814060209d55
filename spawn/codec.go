package spawn

import "github.com/forkless-go/forkless/internal/wire"

// Codec turns arguments and results that are not fixed-size and
// pointer-free into bytes and back. Both ends run the same binary and use the
// codec the function was registered with (WithCodec); the default is Gob.
//
// Encode gets a pointer to the value; Decode gets a pointer to a zero value
// to fill.
type Codec = wire.Codec

var (
	// Gob encodes with encoding/gob. It is the default codec. Interface
	// values need gob.Register, and unexported struct fields do not travel.
	Gob = wire.Gob
	// JSON encodes with encoding/json.
	JSON = wire.JSON
)
