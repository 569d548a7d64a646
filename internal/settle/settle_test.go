package settle

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/event"
)

// TestRunBatches feeds a burst and ends the stream: the pending batch
// runs once, each path once, in order, with NOTIFYFS_EVERYTHING set by
// the overflow.
func TestRunBatches(t *testing.T) {
	events := make(chan event.Event, 10)
	for _, e := range []event.Event{
		{Type: event.Create, Path: "a"}, {Type: event.Write, Path: "a"},
		{Type: event.Rename, Path: "c", From: "b"}, {Type: event.Overflow},
	} {
		events <- e
	}
	close(events)
	var out bytes.Buffer
	r := Runner{Quiet: time.Hour, Command: `cat; echo "[$NOTIFYFS_CHANGED] $NOTIFYFS_EVERYTHING $NOTIFYFS_MOUNT"`,
		Mount: "/m", Null: true, Stdout: &out}
	if err := r.Run(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if want := "a\x00c\x00b\x00[a\nc\nb] 1 /m\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
