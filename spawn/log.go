package spawn

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
)

var logPtr atomic.Pointer[slog.Logger]

func init() {
	// FORKLESS_LOG=debug (or info, warn, error) turns on the runtime's
	// diagnostics on standard error in this process and, through the
	// environment, in every child: Python's log_to_stderr.
	if lv := os.Getenv("FORKLESS_LOG"); lv != "" {
		var level slog.Level
		if err := level.UnmarshalText([]byte(strings.ToUpper(lv))); err != nil {
			level = slog.LevelDebug
		}
		h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
		logPtr.Store(slog.New(h).With("proc", os.Getpid()))
	}
}

var discard = slog.New(slog.DiscardHandler)

// SetLogger sends the package's own diagnostics to l, at levels that fit
// them: a child started, signalled or exited with its result at debug; a
// function that returned an error at info; a child killed by a signal or
// dead without a result, and a parent found gone, at warn; a panic at
// error. They are silent by
// default. nil silences them again. The environment variable
// FORKLESS_LOG=debug does the same with a text logger on standard error, in
// this process and every child.
func SetLogger(l *slog.Logger) { logPtr.Store(l) }

func logger() *slog.Logger {
	if l := logPtr.Load(); l != nil {
		return l
	}
	return discard
}

// exitLevel is the level of a child's exit: how bad it is.
func exitLevel(code int, status byte, respErr error) slog.Level {
	switch {
	case respErr != nil || code < 0:
		return slog.LevelWarn // killed, or died without a result
	case status == statusPanic:
		return slog.LevelError
	case status != statusOK:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
