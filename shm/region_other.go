//go:build !linux

package shm

import (
	"errors"
	"os"
)

// On systems other than Linux, forkless has no memfd and no /dev/shm yet:
// every way of making a region fails with an error wrapping
// errors.ErrUnsupported. Attach still maps a descriptor it is given.

func createAnonymous(size int64) (*os.File, error) { return nil, errors.ErrUnsupported }

func createNamed(name string, size int64) (*os.File, error) { return nil, errors.ErrUnsupported }

func openNamed(name string) (*os.File, error) { return nil, errors.ErrUnsupported }

func unlinkNamed(name string) error { return errors.ErrUnsupported }
