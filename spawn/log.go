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

// SetLogger sends the package's own diagnostics (children started, signalled,
// exited; a parent found gone) to l, at debug level. They are silent by
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
