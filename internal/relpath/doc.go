// Package relpath owns the paths notifyfs speaks in: relative to the
// mount root (which is also SOURCE's root), "/"-separated, with no
// leading slash, "" being the root itself. It is the one place that
// joins, splits, cleans and compares them, so that every package (the
// event filter, the underneath watcher, mount checks) agrees on what
// lies beneath what: component-wise, "a" covers "a/b" but not "ab".
// (fusefs keeps its own copies for now.)
package relpath
