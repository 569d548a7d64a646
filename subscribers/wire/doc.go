// Package wire owns the messages of the notifyfs subscriber protocol
// that the server (package subscribers) and the client
// (subscribers/client) share: the protocol version, the hello, the reply
// shapes and the error codes. Events themselves are package event's JSON.
// It imports only the standard library, so a client built on it pulls in
// nothing of the daemon.
//
// The protocol itself is described in package subscribers and in
// docs/protocol.md.
package wire
