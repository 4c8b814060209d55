//go:build !linux

package ring_test

import "errors"

func mkfifo(path string) error { return errors.ErrUnsupported }
