// Package gitfsmonitor answers git's fsmonitor hook (protocol version 2)
// from a notifyfs mount's event stream, so that `git status` on a
// mounted worktree asks what changed since its last token instead of
// stat-ing every file.
//
// # Protocol
//
// git runs the hook in the worktree's top directory as `HOOK 2 TOKEN`
// and reads back a new token, a NUL, then NUL-terminated paths relative
// to the worktree; a path ending in "/" stands for a directory and
// everything beneath it, and "/" alone says everything may have
// changed. git stores the new token and passes it the next time.
//
// # Tokens
//
// A token is "notifyfs:EPOCH:SEQ:RUN": the stream's cursor, and the
// daemon run that issued it (its pid and process start time). The answer
// is "everything may have changed" for a token that is not ours (git's
// first query passes a timestamp), of another epoch (a new journal) or
// of another run of the daemon (changes made to SOURCE while no daemon
// ran are seen by no stream), and when the stream since the token holds
// a reset, overflow or rescan. Otherwise the answer is the paths of the
// events after the token up to a sync barrier, whose seq is the new
// token: nothing completed before the query is missed, nothing after it
// is lost for the next one.
//
// # Limits
//
// The worktree must lie inside the mount (the mount may be the worktree
// or any directory above it). Events inside the worktree's .git are not
// reported: git does not ask about them.
package gitfsmonitor
