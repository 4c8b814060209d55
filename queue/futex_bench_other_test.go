//go:build !linux

package queue_test

import "testing"

var benchPipeFutex func(*testing.B)
