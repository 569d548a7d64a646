package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// profileResult is a CPU profile of an in-process notifyfs (the same
// wiring as the daemon) under the small-file workloads with one
// subscriber.
type profileResult struct {
	workload string
	flat     string // go tool pprof -top
	cum      string // go tool pprof -top -cum
	file     string
	bd       *profileBreakdown
}

func runProfile(cfg *config, e *env, rep *report) error {
	root := filepath.Join(e.data, "profile")
	src, mnt := filepath.Join(root, "src"), filepath.Join(root, "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	sock := filepath.Join(root, "sock")
	prof := filepath.Join(root, "cpu.pprof")
	lf, err := os.Create(filepath.Join(root, "log"))
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.Command(e.self, "__profile", src, mnt, sock, prof)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := atExit("profile mount", func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if isMounted(mnt) {
			return syscall.Unmount(mnt, 2 /* MNT_DETACH */)
		}
		return nil
	})
	defer stop()
	msg, _ := io.ReadAll(r)
	r.Close()
	if !strings.HasPrefix(string(msg), "ok") {
		return fmt.Errorf("profile helper: %s", msg)
	}
	sub, err := dialSubscriber(sock, "profile", 0)
	if err != nil {
		return err
	}
	n := cfg.smallN[0]
	if !cfg.quick {
		n = 3 * n
	}
	dirs, files := smallFiles(filepath.Join(mnt, "p"), n)
	if err := mkdirs(append([]string{filepath.Join(mnt, "p")}, dirs...)); err != nil {
		return err
	}
	logf("profile: create+write+close, stat, rename, unlink of %s files with one subscriber", kfmt(n))
	if _, err := createWriteClose(files); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if _, err := statAll(files); err != nil {
			return err
		}
	}
	if _, err := renameAll(files); err != nil {
		return err
	}
	if _, err := unlinkAll(files, ".r"); err != nil {
		return err
	}
	if err := sub.verify(); err != nil {
		return err
	}
	sub.c.Close()
	if err := stop(); err != nil {
		return err
	}
	out := filepath.Join(rep.imgDir(), "notifyfs-cpu.pprof")
	res := &profileResult{workload: fmt.Sprintf("%s files: create+write 4 KiB+close, stat ×3, rename, unlink; one subscriber", kfmt(n)), file: out}
	if cfg.out != "" {
		os.MkdirAll(filepath.Dir(out), 0o755)
		if b, err := os.ReadFile(prof); err == nil {
			os.WriteFile(out, b, 0o644)
		}
	}
	pp := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, e.goTool, append([]string{"tool", "pprof"}, args...)...)
		b, err := c.CombinedOutput()
		if err != nil {
			return fmt.Sprintf("pprof: %v\n%s", err, b)
		}
		return string(b)
	}
	if bd, err := analyzeProfile(prof); err == nil {
		res.bd = bd
	} else {
		logf("analyzing the profile: %v", err)
	}
	res.flat = pp("-top", "-nodecount=25", e.self, prof)
	res.cum = pp("-top", "-cum", "-nodecount=40", e.self, prof)
	rep.profile = res
	return nil
}

// goBench is the output of one go test -bench run.
type goBench struct {
	cmd     string
	output  string
	err     string
	cluster bool // one of the cluster benchmarks' runs (cluster.go)
}

// goBenchCmd is one go test -bench run; cluster: its results go to the
// cluster section (and it runs with --only cluster as well).
type goBenchCmd struct {
	args    []string
	cluster bool
}

var goBenchCmds = []goBenchCmd{
	{args: []string{"test", "-run=^$", "-bench=.", "-benchmem", "./eventbus"}},
	// The cluster benchmarks of ./tests make thousands of operations per
	// iteration: they run once per count below, not 2000 times.
	{args: []string{"test", "-run=^$", "-bench=.", "-skip=Cluster|PollDelay", "-benchmem", "-benchtime=2000x", "./tests"}},
	{args: []string{"test", "-run=^$", "-bench=ClusterLatency|PollDelay", "-benchtime=1x", "-count=3", "./tests"}, cluster: true},
	{args: []string{"test", "-run=^$", "-bench=Cluster", "-benchtime=1x", "-count=5", "./cluster"}, cluster: true},
}

func runGoBench(cfg *config, e *env, rep *report) {
	for _, gc := range goBenchCmds {
		if !cfg.want("gobench") && !(gc.cluster && cfg.want("cluster")) {
			continue
		}
		args := gc.args
		logf("go %s", strings.Join(args, " "))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		c := exec.CommandContext(ctx, e.goTool, args...)
		c.Dir = e.repo
		// Temporary directories (SOURCE of the test mounts, the native
		// baseline) on the same fresh file system as everything else.
		tmp := filepath.Join(e.data, "gotest-tmp")
		os.MkdirAll(tmp, 0o755)
		c.Env = append(os.Environ(), "TMPDIR="+tmp)
		b, err := c.CombinedOutput()
		cancel()
		gb := &goBench{cmd: "go " + strings.Join(args, " "), output: string(b), cluster: gc.cluster}
		if err != nil {
			gb.err = err.Error()
			logf("  %v", err)
		}
		rep.gobench = append(rep.gobench, gb)
	}
}
