package main

import (
	"errors"
	"testing"
)

func TestParseSince(t *testing.T) {
	if c, err := parseSince("now"); c != nil || err != nil {
		t.Errorf("now: %v %v", c, err)
	}
	if c, err := parseSince("42"); err != nil || c.Seq != 42 || c.Epoch != "" {
		t.Errorf("42: %+v %v", c, err)
	}
	if c, err := parseSince("abc:7"); err != nil || c.Seq != 7 || c.Epoch != "abc" {
		t.Errorf("abc:7: %+v %v", c, err)
	}
	var ue usageError
	if _, err := parseSince("-1"); !errors.As(err, &ue) {
		t.Errorf("-1: %v, want a usage error", err)
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"nope"}, exitUsage},
		{[]string{"sync"}, exitUsage},
		{[]string{"watch", "--count", "-3", "x"}, exitUsage},
		{[]string{"watch", "--batch", "-1ms", "x"}, exitUsage},
		{[]string{"watch", "--batch", "11s", "x"}, exitUsage},
		{[]string{"watch", "--cluster", "nats://127.0.0.1:1", "--share", "s", "--batch", "10ms"}, exitUsage},
		{[]string{"mount", "--help"}, exitOK},
	} {
		if got := run(c.args); got != c.code {
			t.Errorf("run(%v) = %d, want %d", c.args, got, c.code)
		}
	}
}
