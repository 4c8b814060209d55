//go:build !linux

package queue_test

import "errors"

func mkfifo(path string) error { return errors.ErrUnsupported }
