package subscribers

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestAddFlags(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	o.AddFlags(fs)
	if got := fs.Lookup("socket-mode").DefValue; got != "0600" {
		t.Errorf("default mode shown as %q", got)
	}
	if err := fs.Parse([]string{"--socket", "/run/x.sock", "--socket-mode", "0660", "--socket-group", "staff"}); err != nil {
		t.Fatal(err)
	}
	if o.SocketPath != "/run/x.sock" || o.Mode != 0o660 || o.Group != "staff" {
		t.Fatalf("options %+v", o)
	}
	for _, bad := range []string{"0999", "rw-rw----", "1777", "-1"} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o Options
		o.AddFlags(fs)
		if err := fs.Parse([]string{"--socket-mode", bad}); err == nil {
			t.Errorf("--socket-mode %s accepted: %v", bad, o.Mode)
		}
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("a", 100)
	in := "short\r\n" + long + "\n" + long + "b\n\ntail"
	br := bufio.NewReaderSize(strings.NewReader(in), 16) // lines span many buffer fills
	var got []string
	for {
		line, err := readLine(br, 100, nil)
		if errors.Is(err, errLineTooLong) {
			got = append(got, "TOO LONG")
			break
		}
		got = append(got, string(line))
		if err != nil {
			break
		}
	}
	want := []string{"short", long, "TOO LONG"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}

	br = bufio.NewReader(strings.NewReader("a\n\nlast"))
	var lines []string
	var err error
	for err == nil {
		var line []byte
		line, err = readLine(br, 10, nil)
		lines = append(lines, string(line))
	}
	if err != io.EOF || strings.Join(lines, "|") != "a||last" {
		t.Fatalf("got %q, %v", lines, err)
	}
}
