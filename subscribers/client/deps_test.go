package client

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyWhatAConsumerNeeds: a program that consumes events
// must not pull in the daemon's command line, bus, journal or FUSE.
func TestImportsOnlyWhatAConsumerNeeds(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("NOTIFYFS_TEST_DISALLOW_SKIP") != "" {
			t.Fatalf("no go tool to list dependencies with (NOTIFYFS_TEST_DISALLOW_SKIP is set)")
		}
		t.Skip("no go tool to list dependencies with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"spf13/pflag", "notifyfs/eventbus", "hanwen/go-fuse", "notifyfs/fusefs", "notifyfs/kqshim", "notifyfs/internal/daemon"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the client depends on %s", dep)
			}
		}
	}
}
