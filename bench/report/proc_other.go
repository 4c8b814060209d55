//go:build !unix

package main

import "os/exec"

func ownGroup(cmd *exec.Cmd) {}

// killGroup ends cmd alone: without process groups its children may
// outlive it.
func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }
