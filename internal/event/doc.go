// Package event is the event count under forkless's rings and queues: a
// way for processes to sleep until a condition on shared memory may have
// become true, with no system call on either side while nobody sleeps.
//
// The two words live in the shared layout ([Words]); each process makes its
// own view of them ([Count]), which carries this process's adaptive spin
// budget. The waiter's condition is a func over other shared words; the
// lost-wake-up argument is at [Count.Sleep]. [Count.WaitFor] re-chooses its
// re-check period before each sleep, so an idle waiter costs a wake-up a
// second; [OnExit] turns a process's exit into a callback at no idle cost.
package event
