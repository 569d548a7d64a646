// Package procfs owns notifyfs's reading of Linux's /proc: the thread
// group (process) of a thread id, a task's command name, and the Uid,
// Gid and Groups lines of its status. Every reader opens /proc/TID once
// as a directory and reads the files through that descriptor: a
// descriptor stays bound to the task it was opened for, so the fields
// read together always describe one task, and once the task is gone the
// reads fail rather than describe whatever process was given its id
// since (the pid-reuse guard). Comms keeps such descriptors open, so a
// name looked up again is read from the same process.
//
// # Per-OS
//
// Linux only: on other systems the package holds only ErrUnsupported
// (the BSD backends and peer checks get what they need elsewhere).
package procfs
