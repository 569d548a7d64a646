//go:build linux

package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// TestModelConcurrentWorkload runs several worker processes doing a
// seeded random mix of namespace and data operations in one tree, each
// logging the operations it completed, and checks the events against a
// model built from those logs:
//
//	(a) the seqs an unfiltered subscription saw are consecutive;
//	(b) every operation appears exactly once as its events, attributed
//	    to the worker's pid (a worker is one sequential process and every
//	    event is published before its syscall returns, so a worker's
//	    events come in the order of its log);
//	(c) per path, events are in the order of the operations on that path
//	    (close_write is published at RELEASE, after close(2) returned, so
//	    it is checked separately: once per handle, after the handle's
//	    write, at a name the file has at that seq);
//	(d) no event corresponds to no operation.
//
// Each worker owns its files: they live in its directory wN/ or, named
// wN-*, in the directory shared/ that all workers rename and link into.
// The mix: create (with or without data), append, append then fchmod
// before close (as cp -p does), chmod, rename within and across
// directories (sometimes replacing another file), hard link, unlink,
// mkdir, rmdir, and rename of whole subtrees. Events FUSE addresses by
// node (write, chmod, close_write, link's from) may name any current name
// of a file with several links; see modelWant.
//
// NOTIFYFS_MODEL_SEED=S reruns with worker seeds S, S+1, ...;
// NOTIFYFS_MODEL_OPS=N sets the operations per worker.
func TestModelConcurrentWorkload(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []mountOption
	}{{"passthrough", nil}, {"requests", []mountOption{noPassthrough}}} {
		t.Run(mode.name, func(t *testing.T) {
			runModel(t, mode.opts...)
		})
	}
}

const (
	modelWorkers   = 4
	modelOpsDflt   = 500
	modelWorkerEnv = "NOTIFYFS_MODEL_WORKER" // "root|id|seed|ops|log"
)

// The worker runs in a copy of the test binary started by runModel. It is
// dispatched from init, before TestMain (which would rebuild the notifyfs
// binary in every worker); it never runs in a normal test process.
func init() {
	spec := os.Getenv(modelWorkerEnv)
	if spec == "" {
		return
	}
	if err := modelWorker(spec); err != nil {
		fmt.Fprintln(os.Stderr, "model worker:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// modelOp is one operation of a worker's log.
type modelOp struct {
	Op   string `json:"op"` // create write writechmod chmod rename link remove mkdir rmdir renamedir
	Path string `json:"path"`
	From string `json:"from,omitempty"`
	N    int    `json:"n,omitempty"`    // bytes written
	Mode uint32 `json:"mode,omitempty"` // chmod, writechmod
}

func (o modelOp) String() string {
	if o.From != "" {
		return fmt.Sprintf("%s %s -> %s", o.Op, o.From, o.Path)
	}
	return fmt.Sprintf("%s %s", o.Op, o.Path)
}

// opensHandle: the operation opens a file for writing, so a close_write
// follows it.
func (o modelOp) opensHandle() bool {
	return o.Op == "create" || o.Op == "write" || o.Op == "writechmod"
}

// modelWant is an expected change event.
//
// FUSE names the object of WRITE, SETATTR, RELEASE and of LINK's source
// by node id only, so for a file with several names such an event may
// carry any of them: alts lists the other names the file has at that
// moment (pathAlts for path, fromAlts for from). Name-addressed events
// (create, mkdir, link's new name, remove, rmdir, rename) must be exact.
type modelWant struct {
	op                        int // index in the worker's log
	typ                       eventbus.Type
	path, from                string
	pathAlts, fromAlts        []string
	isDir, lastLink, replaced bool
}

func (w modelWant) String() string {
	s := w.typ.String() + " " + w.path
	if w.from != "" {
		s += " <- " + w.from
	}
	if len(w.pathAlts)+len(w.fromAlts) > 0 {
		s += fmt.Sprintf(" (or names %v <- %v)", w.pathAlts, w.fromAlts)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{w.isDir, "dir"}, {w.lastLink, "last_link"}, {w.replaced, "replaced"}} {
		if f.on {
			s += " " + f.name
		}
	}
	return s
}

func (w modelWant) matches(e *eventbus.Event) bool {
	return e.Type == w.typ && (e.Path == w.path || slices.Contains(w.pathAlts, e.Path)) &&
		(e.From == w.from || slices.Contains(w.fromAlts, e.From)) && e.IsDir == w.isDir &&
		e.LastLink == w.lastLink && e.Replaced == w.replaced && !e.Exchange
}

// modelNameAddressed: the event's path is the name the caller used.
func modelNameAddressed(t eventbus.Type) bool {
	switch t {
	case eventbus.Create, eventbus.Mkdir, eventbus.Link, eventbus.Remove, eventbus.Rmdir, eventbus.Rename:
		return true
	}
	return false
}

func modelEvString(e *eventbus.Event) string {
	return fmt.Sprintf("#%d %s", e.Seq, modelWant{typ: e.Type, path: e.Path, from: e.From, isDir: e.IsDir, lastLink: e.LastLink, replaced: e.Replaced})
}

// modelFile is a file (inode) of the model.
type modelFile struct {
	names   map[string]bool // current names
	ever    map[string]bool // every name it has had
	pending int             // handles opened whose close_write is still due
	listed  bool            // in the close_write check's list of open files
}

// model is the namespace one worker owns: its files (every name of every
// inode) and its subdirectories.
type nsModel struct {
	id    int
	files map[string]*modelFile
	dirs  map[string]bool // subdirectories of wN, at any depth
	freed map[string]bool // file names used before and free now
}

func newNSModel(id int) *nsModel {
	return &nsModel{id: id, files: map[string]*modelFile{}, dirs: map[string]bool{}, freed: map[string]bool{}}
}

func (m *nsModel) home() string { return fmt.Sprintf("w%d", m.id) }

func (m *nsModel) addName(o *modelFile, p string) {
	o.names[p], o.ever[p] = true, true
	m.files[p] = o
	delete(m.freed, p)
}

// modelOtherNames: the names of o other than p, sorted.
func modelOtherNames(o *modelFile, p string) []string {
	var out []string
	for _, n := range modelKeys(o.names) {
		if n != p {
			out = append(out, n)
		}
	}
	return out
}

func (m *nsModel) dropName(p string) {
	o := m.files[p]
	delete(o.names, p)
	delete(m.files, p)
	m.freed[p] = true
}

// apply carries op out on the model and returns the events it must
// produce (close_write excepted) and the file whose handle it opened.
func (m *nsModel) apply(i int, op modelOp) ([]modelWant, *modelFile, error) {
	ev := func(t eventbus.Type, p string) modelWant { return modelWant{op: i, typ: t, path: p} }
	switch op.Op {
	case "create":
		if m.files[op.Path] != nil {
			return nil, nil, fmt.Errorf("create of existing %s", op.Path)
		}
		o := &modelFile{names: map[string]bool{}, ever: map[string]bool{}}
		m.addName(o, op.Path)
		evs := []modelWant{ev(eventbus.Create, op.Path)}
		if op.N > 0 {
			evs = append(evs, ev(eventbus.Write, op.Path))
		}
		return evs, o, nil
	case "write", "writechmod", "chmod":
		o := m.files[op.Path]
		if o == nil {
			return nil, nil, fmt.Errorf("%s of missing %s", op.Op, op.Path)
		}
		byNode := func(t eventbus.Type) modelWant {
			w := ev(t, op.Path)
			w.pathAlts = modelOtherNames(o, op.Path)
			return w
		}
		switch op.Op {
		case "write":
			return []modelWant{byNode(eventbus.Write)}, o, nil
		case "writechmod":
			// The write happened before the fchmod, on an open handle.
			return []modelWant{byNode(eventbus.Write), byNode(eventbus.Chmod)}, o, nil
		}
		return []modelWant{byNode(eventbus.Chmod)}, nil, nil
	case "rename":
		o := m.files[op.From]
		if o == nil {
			return nil, nil, fmt.Errorf("rename of missing %s", op.From)
		}
		w := ev(eventbus.Rename, op.Path)
		w.from = op.From
		if v := m.files[op.Path]; v != nil {
			if v == o {
				return nil, nil, fmt.Errorf("rename between links of one file %s -> %s", op.From, op.Path)
			}
			w.replaced = true
			m.dropName(op.Path)
		}
		m.dropName(op.From)
		m.addName(o, op.Path)
		return []modelWant{w}, nil, nil
	case "link":
		o := m.files[op.From]
		if o == nil || m.files[op.Path] != nil {
			return nil, nil, fmt.Errorf("bad link %s -> %s", op.From, op.Path)
		}
		w := ev(eventbus.Link, op.Path)
		w.from, w.fromAlts = op.From, modelOtherNames(o, op.From)
		m.addName(o, op.Path)
		return []modelWant{w}, nil, nil
	case "remove":
		o := m.files[op.Path]
		if o == nil {
			return nil, nil, fmt.Errorf("remove of missing %s", op.Path)
		}
		w := ev(eventbus.Remove, op.Path)
		w.lastLink = len(o.names) == 1
		m.dropName(op.Path)
		return []modelWant{w}, nil, nil
	case "mkdir":
		m.dirs[op.Path] = true
		w := ev(eventbus.Mkdir, op.Path)
		w.isDir = true
		return []modelWant{w}, nil, nil
	case "rmdir":
		if !m.dirs[op.Path] || !m.emptyDir(op.Path) {
			return nil, nil, fmt.Errorf("rmdir of missing or non-empty %s", op.Path)
		}
		delete(m.dirs, op.Path)
		w := ev(eventbus.Rmdir, op.Path)
		w.isDir = true
		return []modelWant{w}, nil, nil
	case "renamedir":
		if !m.dirs[op.From] {
			return nil, nil, fmt.Errorf("renamedir of missing %s", op.From)
		}
		move := func(p string) (string, bool) {
			if p == op.From {
				return op.Path, true
			}
			if rest, ok := strings.CutPrefix(p, op.From+"/"); ok {
				return op.Path + "/" + rest, true
			}
			return p, false
		}
		for _, d := range modelKeys(m.dirs) {
			if nd, ok := move(d); ok {
				delete(m.dirs, d)
				m.dirs[nd] = true
			}
		}
		for _, p := range modelKeys(m.files) {
			if np, ok := move(p); ok {
				o := m.files[p]
				m.dropName(p)
				m.addName(o, np)
			}
		}
		for _, p := range modelKeys(m.freed) {
			if _, ok := move(p); ok {
				delete(m.freed, p) // its directory now has another name
			}
		}
		w := ev(eventbus.Rename, op.Path)
		w.from, w.isDir = op.From, true
		return []modelWant{w}, nil, nil
	}
	return nil, nil, fmt.Errorf("unknown op %q", op.Op)
}

func (m *nsModel) emptyDir(d string) bool {
	for p := range m.files {
		if strings.HasPrefix(p, d+"/") {
			return false
		}
	}
	for p := range m.dirs {
		if strings.HasPrefix(p, d+"/") {
			return false
		}
	}
	return true
}

func modelKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// depth of a directory below the worker's home (home itself: 0).
func (m *nsModel) depth(d string) int {
	if d == m.home() {
		return 0
	}
	return strings.Count(strings.TrimPrefix(d, m.home()+"/"), "/") + 1
}

// height: how many levels of subdirectories d has below it.
func (m *nsModel) height(d string) int {
	h := 0
	for s := range m.dirs {
		if strings.HasPrefix(s, d+"/") {
			h = max(h, m.depth(s)-m.depth(d))
		}
	}
	return h
}

// next chooses a valid random operation for the current state.
func (m *nsModel) next(rng *rand.Rand, counter *int) modelOp {
	home := m.home()
	fileDirs := append(append([]string{home}, modelKeys(m.dirs)...), "shared")
	newName := func() string {
		*counter++
		d := fileDirs[rng.Intn(len(fileDirs))]
		if d == "shared" {
			return fmt.Sprintf("shared/%s-f%d", home, *counter)
		}
		return fmt.Sprintf("%s/f%d", d, *counter)
	}
	freeName := func() string {
		// Sometimes reuse a name that was in use before, so that one path
		// sees several files over time.
		if free := modelKeys(m.freed); len(free) > 0 && rng.Intn(4) == 0 {
			p := free[rng.Intn(len(free))]
			if d := path.Dir(p); d == "shared" || d == home || m.dirs[d] {
				return p
			}
		}
		return newName()
	}
	files := modelKeys(m.files)
	anyFile := func() string { return files[rng.Intn(len(files))] }
	mode := []uint32{0o600, 0o640, 0o644}[rng.Intn(3)]
	for {
		weights := []struct {
			op string
			w  int
		}{{"create", 20}, {"write", 15}, {"writechmod", 3}, {"chmod", 4}, {"rename", 16},
			{"link", 8}, {"remove", 12}, {"mkdir", 4}, {"rmdir", 4}, {"renamedir", 3}}
		if len(files) > 40 {
			weights[0].w, weights[6].w = 5, 30
		}
		total := 0
		for _, w := range weights {
			total += w.w
		}
		pick := rng.Intn(total)
		var op string
		for _, w := range weights {
			if pick < w.w {
				op = w.op
				break
			}
			pick -= w.w
		}
		needsFile := op != "create" && op != "mkdir" && op != "rmdir" && op != "renamedir"
		if needsFile && len(files) == 0 {
			continue
		}
		switch op {
		case "create":
			return modelOp{Op: op, Path: freeName(), N: rng.Intn(48)}
		case "write":
			return modelOp{Op: op, Path: anyFile(), N: 1 + rng.Intn(48)}
		case "writechmod":
			return modelOp{Op: op, Path: anyFile(), N: 1 + rng.Intn(48), Mode: mode}
		case "chmod":
			return modelOp{Op: op, Path: anyFile(), Mode: mode}
		case "rename":
			from := anyFile()
			if rng.Intn(5) == 0 {
				// Onto another file of ours: replaces it.
				to := anyFile()
				if m.files[to] != m.files[from] {
					return modelOp{Op: op, From: from, Path: to}
				}
			}
			return modelOp{Op: op, From: from, Path: freeName()}
		case "link":
			return modelOp{Op: op, From: anyFile(), Path: freeName()}
		case "remove":
			return modelOp{Op: op, Path: anyFile()}
		case "mkdir":
			var parents []string
			for _, d := range append([]string{home}, modelKeys(m.dirs)...) {
				if m.depth(d) < 2 {
					parents = append(parents, d)
				}
			}
			if len(m.dirs) >= 8 {
				continue
			}
			*counter++
			return modelOp{Op: op, Path: fmt.Sprintf("%s/d%d", parents[rng.Intn(len(parents))], *counter)}
		case "rmdir":
			var empty []string
			for _, d := range modelKeys(m.dirs) {
				if m.emptyDir(d) {
					empty = append(empty, d)
				}
			}
			if len(empty) == 0 {
				continue
			}
			return modelOp{Op: op, Path: empty[rng.Intn(len(empty))]}
		case "renamedir":
			dirs := modelKeys(m.dirs)
			if len(dirs) == 0 {
				continue
			}
			from := dirs[rng.Intn(len(dirs))]
			var parents []string
			for _, p := range append([]string{home}, dirs...) {
				if p != from && !strings.HasPrefix(p, from+"/") && m.depth(p)+1+m.height(from) <= 2 {
					parents = append(parents, p)
				}
			}
			if len(parents) == 0 {
				continue
			}
			*counter++
			return modelOp{Op: op, From: from, Path: fmt.Sprintf("%s/d%d", parents[rng.Intn(len(parents))], *counter)}
		}
	}
}

// modelWorker is the body of a worker process.
func modelWorker(spec string) error {
	parts := strings.Split(spec, "|")
	if len(parts) != 5 {
		return fmt.Errorf("bad spec %q", spec)
	}
	root := parts[0]
	id, _ := strconv.Atoi(parts[1])
	seed, _ := strconv.ParseInt(parts[2], 10, 64)
	nops, _ := strconv.Atoi(parts[3])
	lf, err := os.Create(parts[4])
	if err != nil {
		return err
	}
	defer lf.Close()
	log := bufio.NewWriter(lf)
	defer log.Flush()
	enc := json.NewEncoder(log)

	rng := rand.New(rand.NewSource(seed))
	m := newNSModel(id)
	counter := 0
	data := bytes.Repeat([]byte("0123456789abcdef"), 4)
	abs := func(rel string) string { return filepath.Join(root, rel) }
	for i := 0; i < nops; i++ {
		op := m.next(rng, &counter)
		if err := modelDoOp(abs, op, data); err != nil {
			return fmt.Errorf("op %d (%v): %w", i, op, err)
		}
		if _, _, err := m.apply(i, op); err != nil {
			return fmt.Errorf("op %d (%v): model: %w", i, op, err)
		}
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return log.Flush()
}

func modelDoOp(abs func(string) string, op modelOp, data []byte) error {
	writeClose := func(f *os.File, n int, mode uint32) error {
		if n > 0 {
			if _, err := f.Write(data[:n]); err != nil {
				f.Close()
				return err
			}
		}
		if mode != 0 {
			if err := f.Chmod(os.FileMode(mode)); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	}
	switch op.Op {
	case "create":
		f, err := os.OpenFile(abs(op.Path), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		return writeClose(f, op.N, 0)
	case "write", "writechmod":
		f, err := os.OpenFile(abs(op.Path), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		return writeClose(f, op.N, op.Mode)
	case "chmod":
		return os.Chmod(abs(op.Path), os.FileMode(op.Mode))
	case "rename", "renamedir":
		return os.Rename(abs(op.From), abs(op.Path))
	case "link":
		return os.Link(abs(op.From), abs(op.Path))
	case "remove":
		return syscall.Unlink(abs(op.Path))
	case "mkdir":
		return os.Mkdir(abs(op.Path), 0o755)
	case "rmdir":
		return syscall.Rmdir(abs(op.Path))
	}
	return fmt.Errorf("unknown op %q", op.Op)
}

type modelRun struct {
	id     int
	seed   int64
	pid    int
	log    string
	ops    []modelOp
	stderr bytes.Buffer
}

// modelErrs collects failures, reporting at most a few of each kind so that
// one systematic bug does not drown the rest.
type modelErrs struct {
	t      *testing.T
	counts map[string]int
}

func (c *modelErrs) add(kind, format string, args ...any) {
	c.t.Helper()
	c.counts[kind]++
	if n := c.counts[kind]; n <= 8 {
		c.t.Errorf("%s: "+format, append([]any{kind}, args...)...)
	}
}

func (c *modelErrs) summary() {
	for _, k := range modelKeys(c.counts) {
		if n := c.counts[k]; n > 8 {
			c.t.Errorf("%s: %d failures in all (8 shown)", k, n)
		}
	}
}

func runModel(t *testing.T, opts ...mountOption) {
	m := newMount(t, opts...)
	t.Logf("kernel passthrough in use: %v", m.passthrough)
	for i := 0; i < modelWorkers; i++ {
		if err := os.Mkdir(m.srcPath(fmt.Sprintf("w%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(m.srcPath("shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	nops := modelOpsDflt
	if s := os.Getenv("NOTIFYFS_MODEL_OPS"); s != "" {
		nops, _ = strconv.Atoi(s)
	}
	base := time.Now().UnixNano() % 1e9
	if s := os.Getenv("NOTIFYFS_MODEL_SEED"); s != "" {
		base, _ = strconv.ParseInt(s, 10, 64)
	}
	logs := t.TempDir()

	r := m.record(t)
	start := r.sub.StartSeq()

	// Workers run concurrently; each is bounded by the context.
	c, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	runs := make([]*modelRun, modelWorkers)
	cmds := make([]*exec.Cmd, modelWorkers)
	began := time.Now()
	for i := range runs {
		w := &modelRun{id: i, seed: base + int64(i), log: filepath.Join(logs, fmt.Sprintf("w%d.log", i))}
		runs[i] = w
		cmd := exec.CommandContext(c, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d|%d|%s", modelWorkerEnv, m.mnt, i, w.seed, nops, w.log))
		cmd.Stdout, cmd.Stderr = &w.stderr, &w.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.pid = cmd.Process.Pid
		cmds[i] = cmd
		t.Logf("worker %d: pid %d seed %d (rerun with NOTIFYFS_MODEL_SEED=%d)", i, w.pid, w.seed, base)
	}
	failed := false
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			if c.Err() != nil {
				err = fmt.Errorf("%w: workers not done within 25s", err)
			}
			t.Errorf("worker %d (pid %d, seed %d): %v\n%s", i, runs[i].pid, runs[i].seed, err, runs[i].stderr.String())
			failed = true
		}
	}
	t.Logf("%d workers x %d ops in %v", modelWorkers, nops, time.Since(began).Round(time.Millisecond))

	// Read the logs (also of failed workers: what they did is events too)
	// and derive what must have been published.
	wantCW := 0
	for _, w := range runs {
		b, err := os.ReadFile(w.log)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var op modelOp
			if err := json.Unmarshal([]byte(line), &op); err != nil {
				t.Fatalf("worker %d log: %q: %v", w.id, line, err)
			}
			w.ops = append(w.ops, op)
			if op.opensHandle() {
				wantCW++
			}
		}
		kinds := map[string]int{}
		for _, op := range w.ops {
			kinds[op.Op]++
		}
		t.Logf("worker %d ops: %v", w.id, kinds)
		if !failed && len(w.ops) != nops {
			t.Fatalf("worker %d logged %d ops, want %d", w.id, len(w.ops), nops)
		}
	}

	// Every change event has been published (the workers' syscalls have
	// returned); close_write follows RELEASE, which the kernel sends
	// asynchronously, so wait for as many as there were handles.
	evs := r.synced()
	gotCW := 0
	count := func(es []*eventbus.Event) {
		for _, e := range es {
			if e.Type == eventbus.CloseWrite {
				gotCW++
			}
		}
	}
	count(evs)
	deadline := time.After(10 * time.Second)
wait:
	for gotCW < wantCW {
		more, _, _ := r.sub.Take(nil, 4096)
		evs = append(evs, more...)
		count(more)
		if len(more) > 0 {
			continue
		}
		select {
		case <-r.sub.Ready():
		case <-deadline:
			t.Errorf("only %d of %d close_write events came within 10s", gotCW, wantCW)
			break wait
		}
	}
	late := r.synced()
	count(late)
	evs = append(evs, late...)
	end := m.bus.Seq()
	t.Logf("%d events (seq %d..%d), %d close_write", len(evs), start+1, end, gotCW)

	errs := &modelErrs{t: t, counts: map[string]int{}}
	defer errs.summary()

	// (a) Consecutive seqs, no stream-control notices.
	next := start + 1
	for _, e := range evs {
		if e.Type == eventbus.Overflow || e.Type == eventbus.Reset || e.Type == eventbus.Rescan {
			errs.add("stream control", "%s (from %d to %d)", e.Type, e.FromSeq, e.ToSeq)
			continue
		}
		if e.Seq != next {
			errs.add("seq", "got seq %d, want %d (%s)", e.Seq, next, modelEvString(e))
		}
		next = e.Seq + 1
	}
	if next-1 != end {
		errs.add("seq", "last seq seen %d, bus at %d", next-1, end)
	}
	if st := m.bus.Stats(); st.Dropped != 0 {
		errs.add("bus", "dropped %d events", st.Dropped)
	}

	// Split the stream by process; anything from another pid is an event
	// for no operation (d).
	byPid := map[int][]*eventbus.Event{}
	for _, e := range evs {
		if e.Seq == 0 {
			continue
		}
		if e.Uid != uint32(os.Geteuid()) || e.Origin != eventbus.OriginMount {
			errs.add("attribution", "uid %d origin %v: %s", e.Uid, e.Origin, modelEvString(e))
		}
		byPid[int(e.Pid)] = append(byPid[int(e.Pid)], e)
	}
	for _, w := range runs {
		modelCheckWorker(t, errs, w, byPid[w.pid], m.passthrough)
		delete(byPid, w.pid)
	}
	for pid, es := range byPid {
		for _, e := range es {
			errs.add("unexpected pid", "pid %d (comm %q) made %s", pid, e.Comm, modelEvString(e))
		}
	}
	modelCheckPaths(errs, runs, evs)
}

// modelCheckWorker checks (b), (d) and close_write for one worker: its change
// events are exactly those of its log, in log order; each handle it
// opened for writing got one close_write at a name the file had then.
//
// Under kernel passthrough a write is detected by size/mtime, at flush
// and by the periodic check; the periodic check can land in the middle
// of one write(2) (mtime already moved, size not yet) and the flush then
// reports the rest. A burst is reported "at least once per interval", so
// with splitWrites a wanted write may be matched by several consecutive
// write events at the same path.
func modelCheckWorker(t *testing.T, errs *modelErrs, w *modelRun, evs []*eventbus.Event, splitWrites bool) {
	t.Helper()
	var changes, closes []*eventbus.Event
	for _, e := range evs {
		if e.Type == eventbus.CloseWrite {
			closes = append(closes, e)
		} else {
			changes = append(changes, e)
		}
	}
	var wants []modelWant
	m := newNSModel(w.id)
	for i, op := range w.ops {
		wes, _, err := m.apply(i, op)
		if err != nil {
			t.Fatalf("worker %d log op %d (%v): %v", w.id, i, op, err)
		}
		wants = append(wants, wes...)
	}
	kind := fmt.Sprintf("worker %d (pid %d, seed %d)", w.id, w.pid, w.seed)
	around := func(i int) string {
		var b strings.Builder
		for j := max(0, i-3); j < min(len(changes), i+4); j++ {
			fmt.Fprintf(&b, "\n\t\t%s", modelEvString(changes[j]))
		}
		return b.String()
	}

	// Align wanted and got, resynchronising over one missing or one extra
	// event so that a single loss does not hide the rest.
	opSeq := make([]uint64, len(w.ops)) // seq of the last event of each op
	i, j := 0, 0
	var last *eventbus.Event // the event matched last
	for i < len(wants) || j < len(changes) {
		switch {
		case i < len(wants) && j < len(changes) && wants[i].matches(changes[j]):
			if int(changes[j].Pid) != w.pid {
				errs.add(kind, "pid %d on %s", changes[j].Pid, modelEvString(changes[j]))
			}
			opSeq[wants[i].op] = changes[j].Seq
			last = changes[j]
			i, j = i+1, j+1
		case splitWrites && j < len(changes) && last != nil && last.Type == eventbus.Write &&
			changes[j].Type == eventbus.Write && changes[j].Path == last.Path:
			j++ // the rest of a write the periodic check saw half done
		case j >= len(changes):
			errs.add(kind+" missing", "no event for op %d (%v): want %s", wants[i].op, w.ops[wants[i].op], wants[i])
			i++
		case i >= len(wants):
			errs.add(kind+" extra", "event for no operation: %s", modelEvString(changes[j]))
			j++
		case i+1 < len(wants) && wants[i+1].matches(changes[j]):
			errs.add(kind+" missing", "no event for op %d (%v): want %s before %s; around:%s",
				wants[i].op, w.ops[wants[i].op], wants[i], modelEvString(changes[j]), around(j))
			i++
		case j+1 < len(changes) && wants[i].matches(changes[j+1]):
			errs.add(kind+" extra", "event for no operation: %s (op %d is %v); around:%s",
				modelEvString(changes[j]), wants[i].op, w.ops[wants[i].op], around(j))
			j++
		default:
			errs.add(kind+" mismatch", "op %d (%v): want %s, got %s; around:%s",
				wants[i].op, w.ops[wants[i].op], wants[i], modelEvString(changes[j]), around(j))
			i, j = i+1, j+1
		}
	}
	// An op none of whose events was found counts from its predecessor.
	for k := 1; k < len(opSeq); k++ {
		opSeq[k] = max(opSeq[k], opSeq[k-1])
	}

	// close_write: replay the log in seq order; at each close_write the
	// named file must have a handle whose write came before it.
	m = newNSModel(w.id)
	var open []*modelFile // files that had handles opened
	opened := func(o *modelFile) {
		if o != nil {
			o.pending++
			if !o.listed {
				o.listed = true
				open = append(open, o)
			}
		}
	}
	k := 0
	for _, c := range closes {
		for k < len(w.ops) && opSeq[k] < c.Seq {
			_, o, _ := m.apply(k, w.ops[k])
			opened(o)
			k++
		}
		if int(c.Pid) != w.pid {
			errs.add(kind+" close_write", "attributed to pid %d: %s", c.Pid, modelEvString(c))
		}
		o := m.files[c.Path]
		if o == nil || o.pending == 0 {
			// A file that has lost all its names is reported at its last
			// known name.
			o = nil
			for _, x := range open {
				if x.pending > 0 && len(x.names) == 0 && x.ever[c.Path] {
					o = x
					break
				}
			}
		}
		if o == nil {
			what := "no file"
			if x := m.files[c.Path]; x != nil {
				what = fmt.Sprintf("a file with names %v and no open handle", modelKeys(x.names))
			}
			for _, x := range open {
				if x.pending > 0 && x.ever[c.Path] {
					what += fmt.Sprintf("; a file once named so, with a handle open, is now %v", modelKeys(x.names))
				}
			}
			// The worker's last events before it, and the last that
			// named the path.
			var near strings.Builder
			var before []*eventbus.Event
			var named *eventbus.Event
			for _, e := range evs {
				if e.Seq >= c.Seq {
					break
				}
				before = append(before, e)
				if e.Type != eventbus.CloseWrite && (e.Path == c.Path || e.From == c.Path) {
					named = e
				}
			}
			if named != nil && (len(before) < 5 || named.Seq < before[len(before)-5].Seq) {
				fmt.Fprintf(&near, "\n\t\t%s\n\t\t...", modelEvString(named))
			}
			for _, e := range before[max(0, len(before)-5):] {
				fmt.Fprintf(&near, "\n\t\t%s", modelEvString(e))
			}
			errs.add(kind+" close_write", "%s: at that seq %s is %s; this worker's events before it:%s", modelEvString(c), c.Path, what, near.String())
			continue
		}
		o.pending--
	}
	for ; k < len(w.ops); k++ {
		_, o, _ := m.apply(k, w.ops[k])
		opened(o)
	}
	for _, o := range open {
		if o.pending > 0 {
			errs.add(kind+" close_write", "missing for the file with names %v (once %v)", modelKeys(o.names), modelKeys(o.ever))
			o.pending = 0
		}
	}
}

// modelCheckPaths checks (c) on its own, independently of the per-worker
// alignment: for every path, the name-addressed events that name it
// (path, and from of a rename) come in the order of the operations on it.
// Paths are owned by one worker each, so log order is the path's order.
// Events addressed by node (write, chmod, close_write, link's from) are
// ordered per file by the per-worker check.
func modelCheckPaths(errs *modelErrs, runs []*modelRun, evs []*eventbus.Event) {
	key := func(w modelWant) []string {
		if !modelNameAddressed(w.typ) {
			return nil
		}
		s := modelWant{typ: w.typ, path: w.path, isDir: w.isDir, lastLink: w.lastLink, replaced: w.replaced}.String()
		if w.typ == eventbus.Rename {
			return []string{w.path, s + " <- " + w.from, w.from, s + " <- " + w.from}
		}
		return []string{w.path, s}
	}
	want := map[string][]string{}
	owner := map[string]int{}
	for _, w := range runs {
		m := newNSModel(w.id)
		for i, op := range w.ops {
			wes, _, _ := m.apply(i, op)
			for _, we := range wes {
				k := key(we)
				for j := 0; j < len(k); j += 2 {
					if o, ok := owner[k[j]]; ok && o != w.id {
						errs.add("model", "path %s used by workers %d and %d", k[j], o, w.id)
					}
					owner[k[j]] = w.id
					want[k[j]] = append(want[k[j]], k[j+1])
				}
			}
		}
	}
	got := map[string][]string{}
	for _, e := range evs {
		k := key(modelWant{typ: e.Type, path: e.Path, from: e.From, isDir: e.IsDir, lastLink: e.LastLink, replaced: e.Replaced})
		for j := 0; j < len(k); j += 2 {
			got[k[j]] = append(got[k[j]], k[j+1])
		}
	}
	for _, p := range modelKeys(want) {
		g, w := got[p], want[p]
		if !slices.Equal(g, w) {
			n := 0
			for n < min(len(g), len(w)) && g[n] == w[n] {
				n++
			}
			errs.add("per-path order", "%s: %d events, want %d; first difference at %d:\n\t\tgot  %q\n\t\twant %q",
				p, len(g), len(w), n, g[n:min(len(g), n+3)], w[n:min(len(w), n+3)])
		}
		delete(got, p)
	}
	for _, p := range modelKeys(got) {
		errs.add("per-path order", "%s: events for a path no operation named: %q", p, got[p])
	}
}
