package buildinfo

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := Read()
	if in.Version == "" || !strings.HasPrefix(in.Go, "go") {
		t.Fatalf("%+v", in)
	}
}
