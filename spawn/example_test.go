//go:build unix

package spawn_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/forkless-go/forkless/spawn"
)

// cube runs in a child process. It is registered at package scope, so every
// process of the binary knows it.
var cube = spawn.Register("spawn.cube", func(ctx context.Context, x int) (int, error) {
	return x * x * x, nil
})

func ExampleFunc_Run() {
	// In a real program, spawn.Main() is the first line of main.
	n, err := cube.Run(context.Background(), 3)
	fmt.Println(n, err)
	// Output: 27 <nil>
}

var readConfig = spawn.Register("spawn.readConfig", func(ctx context.Context, path string) ([]byte, error) {
	return os.ReadFile(path)
})

func ExampleChildError() {
	_, err := readConfig.Run(context.Background(), "/no/such/config")
	var ce *spawn.ChildError
	fmt.Println(errors.As(err, &ce), errors.Is(err, fs.ErrNotExist))
	// Output: true true
}

// sleeper runs in a child until its context ends. It says "ready" on its
// standard output once it runs. (Here, in a test binary, once the child
// watches for SIGTERM too: a SIGTERM in a child's first 5 ms kills it
// outright, without a result.)
var sleeper = spawn.Register("spawn.sleeper", func(ctx context.Context, _ struct{}) (struct{}, error) {
	if err := awaitWatching(); err != nil {
		return struct{}{}, err
	}
	fmt.Println("ready")
	<-ctx.Done()
	return struct{}{}, nil
})

func ExampleProcess_Terminate() {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	p, err := sleeper.Start(context.Background(), struct{}{}, spawn.Name("sleeper"), spawn.Stdout(w))
	w.Close() // the child has its copy
	if err != nil {
		fmt.Println(err)
		return
	}
	bufio.NewReader(r).ReadString('\n') // wait until it says "ready"
	p.Terminate()                       // its context ends; it returns
	_, err = p.Wait(context.Background())
	code, _ := p.ExitCode()
	fmt.Println(p.Name(), err, code)
	// Output: sleeper <nil> -15
}
