//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// Tests for the defects of issues 12 and 13, each written to fail before
// its fix.

var defectExit = spawn.Register("spawn.defectExit", func(ctx context.Context, code int) (int, error) {
	os.Exit(code)
	return 0, nil
})

func defectCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Issue 12: a child that calls os.Exit, with status 0 as with 1, died
// without a result: an *ExitError wrapping ErrDied.
func TestOsExitIsExitError(t *testing.T) {
	for _, code := range []int{0, 1} {
		_, err := defectExit.Run(defectCtx(t, 20*time.Second), code)
		var ee *spawn.ExitError
		if !errors.As(err, &ee) || !errors.Is(err, spawn.ErrDied) || ee.ExitCode != code || !ee.Attached {
			t.Errorf("os.Exit(%d): err = %v (%T), want an attached *ExitError with code %d wrapping ErrDied", code, err, err, code)
		}
	}
}

// runMarked runs this test binary with FORKLESS_SPAWN_CHILD=value and the
// given extra descriptors (fd 3 on), as a program whose environment the
// variable leaked into; it returns the exit code, standard error and how
// long the program ran.
func runMarked(t *testing.T, value string, extra ...*os.File) (int, string, time.Duration) {
	t.Helper()
	ctx := defectCtx(t, 20*time.Second)
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), "FORKLESS_SPAWN_CHILD="+value)
	cmd.ExtraFiles = extra
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("marked program: %v, want an exit status (stderr %q)", err, stderr.String())
	}
	return ee.ExitCode(), stderr.String(), d
}

// Issue 13: FORKLESS_SPAWN_CHILD leaked into a normal program's
// environment is told from a real child (whose fd 3 starts with the token
// its variable names) and refused at once with a message naming the
// variable, never a hang on fd 3.
func TestLeakedChildMarker(t *testing.T) {
	token := strings.Repeat("ab", 16)
	check := func(name string, code int, stderr string, d time.Duration) {
		t.Helper()
		if code != 70 || !strings.Contains(stderr, "FORKLESS_SPAWN_CHILD") || !strings.Contains(stderr, "leaked") {
			t.Errorf("%s: exit %d, stderr %q; want 70 and a message naming the leaked variable", name, code, stderr)
		}
		if d > 5*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
	// No fd 3 at all, with an old-style value and with a well-formed token.
	for _, v := range []string{"2", token} {
		code, stderr, d := runMarked(t, v)
		check("no fd 3, value "+v, code, stderr, d)
	}
	// fd 3 an idle pipe: its writer is open and silent.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	code, stderr, d := runMarked(t, token, r)
	check("idle pipe", code, stderr, d)
	r.Close()
	// fd 3 a request header for another token.
	r, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w2.Write(append([]byte("FLSQ\x03"), make([]byte, 16)...))
	code, stderr, d = runMarked(t, token, r)
	check("another token", code, stderr, d)
	r.Close()
}

// defectOpenFds lists the descriptors open in the child, with what each
// refers to.
var defectOpenFds = spawn.Register("spawn.defectOpenFds", func(ctx context.Context, _ int) ([]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+" -> "+target)
	}
	return out, nil
})

// Issue 13: a descriptor the parent opened without close-on-exec does not
// reach its children (Python's spawn closes such descriptors), and stays
// open and inheritable in the parent.
func TestChildGetsOnlyGivenDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inheritable-file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	open, err := defectOpenFds.Run(defectCtx(t, 20*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range open {
		if strings.HasSuffix(f, path) {
			t.Errorf("the child inherited fd %s (open fds: %v)", f, open)
		}
	}
	t.Logf("the child's descriptors: %v", open)
	if _, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil {
		t.Errorf("the parent's descriptor is gone: %v", err)
	}
}
