// Package memlimit keeps the Go runtime's soft memory limit of the
// daemon where its memory budget says, without making the collector
// spin.
//
// The daemon's one large holding that grows with load is the ring of
// recent events, bounded by --ring-bytes; without a limit the collector
// lets the heap reach twice what is live, so a full ring would cost
// twice its budget. A fixed limit of the ring's budget plus a headroom
// is right only while the rest of the daemon is small. It is not on a
// large tree: go-fuse keeps a node for every inode the kernel knows
// (about 600 bytes each), and once what is live outgrows the fixed
// limit the collector runs back to back — measured: a listing of 30k
// entries after 300k events cost the daemon 3.6 times the CPU of the
// same listing in a fresh one — while freeing nothing.
//
// So the limit follows what is live outside the ring, re-read after
// every collection: limit = (live heap − ring) + ring budget + headroom.
// The ring never costs more than its budget, and the collector always
// has at least the headroom to allocate into before it runs again.
package memlimit
