// Package jsondecode measures event.Event.UnmarshalJSON (the hand-written
// fast path) against decoding the same event with encoding/json, the
// encoding/json/v2 prototype (github.com/go-json-experiment/json) and
// github.com/goccy/go-json. It is a module of its own so that notifyfs
// itself does not depend on the libraries it compares with; the results
// are in docs/performance-json.md.
//
//	cd tests/bench/jsondecode && go test -run '^$' -bench . -benchmem
package jsondecode
