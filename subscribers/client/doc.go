// Package client is the Go client of the notifyfs subscriber socket (see
// package subscribers for the protocol). A Client is one connection: it
// can hold one subscription, whose events arrive on Events, and issue
// sync, status and unsubscribe requests concurrently from any goroutine.
//
// It imports only what a consumer needs: package event for the events
// and subscribers/wire for the protocol's messages — no pflag, no bus,
// no journal, no go-fuse.
package client
