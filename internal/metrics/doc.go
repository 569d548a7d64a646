// Package metrics serves a daemon's figures as Prometheus metrics
// (`notifyfs mount --metrics ADDR`, the standard Go client library):
//
//	notifyfs_events_total{type,origin}          events published (operations
//	                                            through the mount: origin="mount")
//	notifyfs_fuse_request_duration_seconds{op}  FUSE request latency, as the
//	                                            daemon handled it
//	notifyfs_seq                                the latest seq
//	notifyfs_subscriber_lag{subscriber}         events published and not yet
//	                                            delivered, per subscriber
//	notifyfs_subscriber_queued{subscriber}      events waiting in its queue
//	notifyfs_subscriber_lost_total{subscriber}  events it lost (overflow)
//	notifyfs_events_dropped_total               all subscribers' losses since start
//	notifyfs_journal_bytes, notifyfs_journal_segments
//	notifyfs_journal_sync_duration_seconds      one fsync of the journal
//	notifyfs_underneath_events_total            changes bridged from underneath
//	notifyfs_underneath_echoes_dropped_total    the mount's own changes recognised
//	notifyfs_underneath_rescans_total           subtrees re-read
//	notifyfs_underneath_overflows_total         kernel queue overflows
//
// plus the Go runtime's and the process's standard collectors.
//
// # Consistency
//
// Events are counted by an in-process subscriber of the bus (shown as
// "metrics" in status). A scrape first waits (at most a second) until it
// has counted every event published before the scrape began, so that a
// script that syncs and then scrapes sees its own changes counted.
package metrics
