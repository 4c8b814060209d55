// Package faults is forkless's fault harness: scenarios that SIGKILL
// processes at random moments, scribble random words into live shared
// structures, truncate named regions and forge handles, while a bystander
// uses the structure and checks every item (producer, sequence, checksum)
// and every guarded pair.
//
// The scenarios are tests (go test ./faults). Plain go test runs a short
// smoke of each; with FORKLESS_SOAK=<duration> they share that budget. The
// generated section of docs/reliability.md is rewritten by
//
//	FORKLESS_SOAK=5m go test ./faults -run . -update
//
// from the table of the run ([Row], [Render], [ReplaceSection]). The
// package exports nothing a program would use.
package faults
