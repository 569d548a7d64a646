module github.com/notifyfs/notifyfs/tests/bench/jsondecode

go 1.26.8

require (
	github.com/go-json-experiment/json v1.27.2
	github.com/goccy/go-json v0.12.0
	github.com/notifyfs/notifyfs v0.0.0
)

replace github.com/notifyfs/notifyfs => ../../..
