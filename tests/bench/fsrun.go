package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fsState is one system's working set within a round.
type fsState struct {
	in              *instance
	dir             string // the round's directory on the system
	c1dirs, c1files []string
	c2dirs, c2files []string
	big             string
	flat            string
	lsdir           string // the directory of ls -l ("" on systems that skip it)
	tarball         string
	bare            string // the bare repository git clone reads (native storage)
}

// lsSkip are the systems that do not run ls -l of the large directory: it
// makes no events, so ten subscribers would only repeat notifyfs+1sub,
// and each listing of 100k entries through FUSE takes seconds.
var lsSkip = []string{sNotify10, sNotify1B}

// runFS runs workloads 1–5 on every system, round by round.
func runFS(cfg *config, e *env, rep *report) error {
	specs := fsSystems(e)
	rep.fsSystems = specs
	if e.bindfs == "" {
		rep.notes = append(rep.notes, "bindfs column left out: "+e.bindfsWhy)
	}
	logf("preparing the source tarball (%s)", orDefault(cfg.tarSubset, "all of GOROOT/src"))
	tarball, bare, tarFiles, err := prepareTarball(cfg, e)
	if err != nil {
		return err
	}
	rep.tarFiles = tarFiles
	n1, n2 := cfg.smallN[0], cfg.smallN[len(cfg.smallN)-1]
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	perOp := func(n int) func(time.Duration) float64 {
		return func(d time.Duration) float64 { return float64(d) / 1e3 / float64(n) }
	}
	mbps := func(size int64) func(time.Duration) float64 {
		return func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	}
	M := func(key, title, unit string, higher bool, ops int) *metric {
		m := newMetric(key, title, unit, higher)
		m.ops = ops
		rep.fs = append(rep.fs, m)
		return m
	}
	mCreate1 := M("create1", fmt.Sprintf("create+write 4 KiB+close, N=%s", kfmt(n1)), "µs/file", false, n1)
	mCreate2 := M("create2", fmt.Sprintf("create+write 4 KiB+close, N=%s", kfmt(n2)), "µs/file", false, n2)
	mStat := M("stat", fmt.Sprintf("stat every file of a warm tree (%s files)", kfmt(n2)), "µs/stat", false, n2)
	mLs1 := M("readdir1", fmt.Sprintf("readdir of a %s-entry directory, first listing", kfmt(cfg.flatDir)), "ms", false, cfg.flatDir)
	mLs2 := M("readdir2", fmt.Sprintf("readdir of a %s-entry directory, again", kfmt(cfg.flatDir)), "ms", false, cfg.flatDir)
	mRename := M("rename", fmt.Sprintf("rename, N=%s", kfmt(cfg.renameN)), "µs/op", false, cfg.renameN)
	mUnlink := M("unlink", fmt.Sprintf("unlink, N=%s", kfmt(cfg.renameN)), "µs/op", false, cfg.renameN)
	mSeqW := M("seqwrite", fmt.Sprintf("sequential write %s (1 MiB writes)", sizeFmt(cfg.seqBytes)), "MiB/s", true, 0)
	mSeqR := M("seqread", fmt.Sprintf("sequential read %s (1 MiB reads)", sizeFmt(cfg.seqBytes)), "MiB/s", true, 0)
	mRand := M("randread", fmt.Sprintf("random 4 KiB reads (%s of them)", kfmt(cfg.randReads)), "µs/read", false, cfg.randReads)
	mTar := M("tarx", fmt.Sprintf("extract the Go source tarball (%s files)", kfmt(tarFiles)), "s", false, 0)
	mGit1 := M("git1", "git status, first (index refresh)", "s", false, 0)
	mGit2 := M("git2", "git status, again", "s", false, 0)
	mRm := M("rmrf", "rm -rf of the tree", "s", false, 0)
	mClone := M("gitclone", "git clone --no-hardlinks of the tree's repository (from a bare copy on native storage)", "s", false, 0)
	mLsl1 := M("lsl1", fmt.Sprintf("ls -l of a %s-entry directory, first listing after mounting", kfmt(cfg.lsDir)), "ms", false, cfg.lsDir)
	mLsl2 := M("lsl2", fmt.Sprintf("ls -l of a %s-entry directory, again", kfmt(cfg.lsDir)), "ms", false, cfg.lsDir)

	roots := map[string]string{}
	for _, s := range specs {
		roots[s.name] = filepath.Join(e.data, "fs", s.name)
		logf("%s: populating a %s-entry directory in SOURCE", s.name, kfmt(cfg.flatDir))
		if err := populateFlat(filepath.Join(roots[s.name], "src", "flat"), cfg.flatDir); err != nil {
			return err
		}
		if !slices.Contains(lsSkip, s.name) {
			logf("%s: populating a %s-entry directory in SOURCE for ls -l", s.name, kfmt(cfg.lsDir))
			if err := populateFlat(filepath.Join(roots[s.name], "src", "lsdir"), cfg.lsDir); err != nil {
				return err
			}
		}
	}

	for r := 0; r < cfg.runs; r++ {
		order := rotate(specs, r)
		var names []string
		for _, s := range order {
			names = append(names, s.name)
		}
		logf("round %d/%d, order: %s", r+1, cfg.runs, strings.Join(names, ", "))
		states := map[string]*fsState{}
		var insts []*instance
		teardown := func() error {
			var errs []string
			for _, in := range insts {
				if err := in.close(); err != nil {
					errs = append(errs, err.Error())
				}
				os.RemoveAll(filepath.Join(in.src, fmt.Sprintf("r%d", r)))
			}
			insts = nil
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return nil
		}
		undo := atExit(fmt.Sprintf("round %d", r), teardown)
		for _, s := range order {
			in, err := startSystem(e, s, roots[s.name])
			if err != nil {
				undo()
				return err
			}
			insts = append(insts, in)
			if rep.passthrough == nil {
				rep.passthrough = map[string]string{}
			}
			rep.passthrough[s.name] = in.passthrough
			st := &fsState{in: in, dir: filepath.Join(in.dir, fmt.Sprintf("r%d", r)), flat: filepath.Join(in.dir, "flat"), tarball: tarball, bare: bare}
			if !slices.Contains(lsSkip, s.name) {
				st.lsdir = filepath.Join(in.dir, "lsdir")
			}
			st.c1dirs, st.c1files = smallFiles(filepath.Join(st.dir, "c1"), n1)
			st.c2dirs, st.c2files = smallFiles(filepath.Join(st.dir, "c2"), n2)
			st.big = filepath.Join(st.dir, "big")
			states[s.name] = st
		}
		// measure runs fn on one system and records its figure, the
		// daemon's CPU time and the subscribers' delivery tail.
		measure := func(m *metric, st *fsState, ops int, conv func(time.Duration) float64, fn func() (time.Duration, error)) error {
			in := st.in
			cpu0, cs0 := in.cpu(), in.switches()
			d, err := fn()
			if err != nil {
				return fmt.Errorf("%s: %s: %w", in.spec.name, m.key, err)
			}
			tail, err := in.catchUpAll()
			if err != nil {
				return fmt.Errorf("%s: %s: %w", in.spec.name, m.key, err)
			}
			cpu, cs := in.cpu()-cpu0, in.switches()-cs0
			v := conv(d)
			m.add(in.spec.name, r, v)
			if in.pid != 0 {
				if ops > 0 {
					put(m.cpu, in.spec.name, r, float64(cpu)/1e3/float64(ops))
					put(m.cs, in.spec.name, r, float64(cs)/float64(ops))
				} else {
					put(m.cpu, in.spec.name, r, float64(cpu)/1e6)
					put(m.cs, in.spec.name, r, float64(cs))
				}
			}
			if len(in.subs) > 0 {
				put(m.tail, in.spec.name, r, ms(tail))
			}
			logf("  %-15s %-9s %10.2f %s", in.spec.name, m.key, v, m.unit)
			return nil
		}
		type step struct {
			name string
			fn   func(st *fsState) error
		}
		steps := []step{
			{"create1", func(st *fsState) error {
				if err := mkdirs(append([]string{st.dir, filepath.Dir(st.c1dirs[0])}, st.c1dirs...)); err != nil {
					return err
				}
				return measure(mCreate1, st, n1, perOp(n1), func() (time.Duration, error) { return createWriteClose(st.c1files) })
			}},
			{"create2", func(st *fsState) error {
				if err := mkdirs(append([]string{filepath.Dir(st.c2dirs[0])}, st.c2dirs...)); err != nil {
					return err
				}
				return measure(mCreate2, st, n2, perOp(n2), func() (time.Duration, error) { return createWriteClose(st.c2files) })
			}},
			{"stat", func(st *fsState) error {
				if _, err := statAll(st.c2files); err != nil { // warm it
					return err
				}
				return measure(mStat, st, n2, perOp(n2), func() (time.Duration, error) { return statAll(st.c2files) })
			}},
			{"readdir", func(st *fsState) error {
				list := func() (time.Duration, error) {
					n, d, err := listDir(st.flat)
					if err == nil && n < cfg.flatDir {
						err = fmt.Errorf("listed %d entries, want %d", n, cfg.flatDir)
					}
					return d, err
				}
				if err := measure(mLs1, st, 0, ms, list); err != nil {
					return err
				}
				return measure(mLs2, st, 0, ms, list)
			}},
			{"ls -l", func(st *fsState) error {
				if st.lsdir == "" {
					return nil
				}
				// The first ls -l after mounting: the kernel knows none
				// of the entries yet (natively they are in the dcache
				// since they were made); then again at once.
				ls := func() (time.Duration, error) { return timedQuiet(st.dir, []string{"LC_ALL=C"}, "ls", "-l", st.lsdir) }
				if err := measure(mLsl1, st, 0, ms, ls); err != nil {
					return err
				}
				return measure(mLsl2, st, 0, ms, ls)
			}},
			{"rename", func(st *fsState) error {
				return measure(mRename, st, cfg.renameN, perOp(cfg.renameN), func() (time.Duration, error) { return renameAll(st.c1files[:cfg.renameN]) })
			}},
			{"unlink", func(st *fsState) error {
				if err := measure(mUnlink, st, cfg.renameN, perOp(cfg.renameN), func() (time.Duration, error) { return unlinkAll(st.c1files[:cfg.renameN], ".r") }); err != nil {
					return err
				}
				if _, err := unlinkAll(st.c1files[cfg.renameN:], ""); err != nil {
					return err
				}
				return rmdirs(st.c1dirs)
			}},
			{"seq", func(st *fsState) error {
				unix.Sync() // nothing of earlier workloads left to write back
				if err := measure(mSeqW, st, 0, mbps(cfg.seqBytes), func() (time.Duration, error) { return seqWrite(st.big, cfg.seqBytes) }); err != nil {
					return err
				}
				unix.Sync() // write back now, not during what comes next
				settle()
				if err := measure(mSeqR, st, 0, mbps(cfg.seqBytes), func() (time.Duration, error) {
					n, d, err := seqRead(st.big)
					if err == nil && n != cfg.seqBytes {
						err = fmt.Errorf("read %d bytes, want %d", n, cfg.seqBytes)
					}
					return d, err
				}); err != nil {
					return err
				}
				if err := measure(mRand, st, cfg.randReads, perOp(cfg.randReads), func() (time.Duration, error) { return randRead(st.big, cfg.seqBytes, cfg.randReads) }); err != nil {
					return err
				}
				err := unix.Unlink(st.big)
				unix.Sync()
				return err
			}},
			{"real", func(st *fsState) error {
				git := func() (time.Duration, error) {
					return timedCmd(st.dir, "git", "-c", "safe.directory=*", "-C", filepath.Join(st.dir, "go"), "status", "--porcelain")
				}
				unix.Sync()
				settle()
				if err := measure(mTar, st, 0, func(d time.Duration) float64 { return d.Seconds() }, func() (time.Duration, error) {
					return timedCmd(st.dir, "tar", "-xf", st.tarball)
				}); err != nil {
					return err
				}
				if err := measure(mGit1, st, 0, func(d time.Duration) float64 { return d.Seconds() }, git); err != nil {
					return err
				}
				if err := measure(mGit2, st, 0, func(d time.Duration) float64 { return d.Seconds() }, git); err != nil {
					return err
				}
				if err := measure(mRm, st, 0, func(d time.Duration) float64 { return d.Seconds() }, func() (time.Duration, error) {
					return timedCmd(st.dir, "rm", "-rf", filepath.Join(st.dir, "go"))
				}); err != nil {
					return err
				}
				unix.Sync()
				settle()
				clone := filepath.Join(st.dir, "clone")
				if err := measure(mClone, st, 0, func(d time.Duration) float64 { return d.Seconds() }, func() (time.Duration, error) {
					return timedCmd(st.dir, "git", "-c", "safe.directory=*", "clone", "-q", "--no-hardlinks", st.bare, clone)
				}); err != nil {
					return err
				}
				_, err := timedCmd(st.dir, "rm", "-rf", clone) // untimed
				unix.Sync()
				return err
			}},
		}
		for _, stp := range steps {
			for _, s := range order {
				if err := stp.fn(states[s.name]); err != nil {
					undo()
					return err
				}
			}
		}
		if err := undo(); err != nil {
			return err
		}
	}
	return nil
}

// settle gives background writeback a moment after a sync.
func settle() { time.Sleep(50 * time.Millisecond) }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func kfmt(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func sizeFmt(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d B", b)
}
