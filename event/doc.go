// Package event owns what a notifyfs event is: the Event type, its types
// and origins, the cursor (a position in the stream), the filter a
// subscription selects events with, and the three encodings — JSON (the
// contract, docs/events.md), a one-line text form, and the compact binary
// form the journal stores. It imports nothing of notifyfs and nothing
// heavier than the standard library, so that the public client
// (subscribers/client) and any other consumer can use it alone.
//
// # Forward compatibility
//
// Event.UnmarshalJSON accepts type and origin names it does not know, so
// that a client keeps working against a newer daemon: such an event has
// Type TypeNone and the name in Event.Unknown, and AppendJSON writes it
// back unchanged. Unknown fields are ignored. ParseType and ParseTypeList
// stay strict.
//
// # Decoding cost
//
// UnmarshalJSON decodes the canonical form (what AppendJSON writes) by
// hand and hands anything else to encoding/json, so its semantics are
// encoding/json's; docs/performance.md has the measurements that keep the
// fast path.
//
// # Filters
//
// Prefixes are component-wise ("a" covers "a/b", not "ab"). Globs are
// matched component by component, "**" standing for any number of whole
// components and every other component being a path.Match pattern. The
// matcher is linear in the product of pattern and path lengths whatever
// the number of "**" (it runs on the publishing path, under the bus lock)
// and allocates nothing. Validate rejects a malformed pattern with an
// error naming it.
//
// # Clustered mounts
//
// An event relayed from another host of the same share has origin
// OriginRemote and names that host in Host. Host is written in every
// encoding only when set; the binary form of an event without one is the
// journal's original (version 1) form.
package event
