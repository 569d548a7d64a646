// Command bench measures notifyfs side by side with native access to
// SOURCE, a plain go-fuse loopback mount with the same mount options,
// bindfs, and inotify, and writes docs/performance.md with plots in
// docs/img/.
//
//	cd tests/bench && go run . [--quick] [--out ../../docs]
//
// It sets everything up itself: it builds the notifyfs binary and runs the
// daemon as a separate process (so that its CPU time and memory are its
// own), runs the plain loopback in a helper process (this binary re-run
// with a hidden subcommand), starts bindfs, connects subscribers, and
// tears every mount down again, also on failure, panic or a signal.
//
// Every figure is the median of several rounds with min–max; within a
// round the systems take turns workload by workload, in an order that
// rotates from round to round, and every ratio is taken inside one round.
package main
