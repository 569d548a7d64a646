// Package fsobj owns what kqshim records of one object of SOURCE (Entry:
// identity, type and the attributes a change shows in) and how it reads
// one (Stat, StatAt, StatFresh, beneath a directory's descriptor, never
// following a final symlink), plus the orders paths are reported in
// (ShallowerFirst, DeeperFirst). Both kqshim (its scans, sink and index)
// and the kqueue translation (kqshim/internal/kqueue) describe objects
// this way, so the type lives below both.
package fsobj
