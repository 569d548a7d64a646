//go:build linux

package tests

import (
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// go-fuse's POSIX conformance suite, run on a notifyfs mount, both with
// kernel passthrough and with every read and write as a request.
func TestPosix(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []mountOption
	}{{"passthrough", nil}, {"requests", []mountOption{noPassthrough}}} {
		t.Run(mode.name, func(t *testing.T) {
			for name, fn := range posixtest.All {
				t.Run(name, func(t *testing.T) {
					m := newMount(t, mode.opts...)
					fn(t, m.mnt)
				})
			}
		})
	}
}
