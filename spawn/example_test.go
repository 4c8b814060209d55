//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

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

func ExampleProcess_Terminate() {
	p, err := sleeping.Start(context.Background(), time.Hour, spawn.Name("sleeper"))
	if err != nil {
		fmt.Println(err)
		return
	}
	time.Sleep(200 * time.Millisecond) // let it start and watch for SIGTERM
	p.Terminate()                      // its context ends; it returns
	_, err = p.Wait(context.Background())
	code, _ := p.ExitCode()
	fmt.Println(p.Name(), err, code)
	// Output: sleeper <nil> -15
}
