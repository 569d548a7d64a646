package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/notifyfs/notifyfs/mountutil"
)

// startDaemon runs this same command again in the foreground, detached
// from the terminal, and returns once the mount is ready (or reports why
// it failed). The child's log goes to mountutil.LogPath.
func startDaemon(args []string, mnt string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := mountutil.EnsureRuntimeDir(); err != nil {
		return err
	}
	logPath := mountutil.LogPath(mnt)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()

	childArgs := append([]string{"mount", "--foreground", "--ready-fd=3"}, args...)
	cmd := exec.Command(exe, childArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start daemon: %w", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	msg, _ := io.ReadAll(bufio.NewReader(r))
	status := strings.TrimSpace(string(msg))
	if status == "ok" {
		cmd.Process.Release()
		return nil
	}
	err = <-exited
	if status != "" {
		return fmt.Errorf("%s", strings.TrimPrefix(status, "error: "))
	}
	return fmt.Errorf("daemon exited before the mount was ready (%v); log: %s\n%s", err, logPath, tail(logPath, 10))
}

// signalReady tells a waiting parent (startDaemon) the outcome.
func signalReady(fd int, err error) {
	if fd < 0 {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	if f == nil {
		return
	}
	defer f.Close()
	if err != nil {
		fmt.Fprintf(f, "error: %v\n", err)
		return
	}
	fmt.Fprintln(f, "ok")
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
