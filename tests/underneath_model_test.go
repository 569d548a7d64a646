//go:build linux

package tests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

// A mixed, concurrent run: one side works through the mount, the other
// directly on SOURCE, at the same time, in the same directories, each
// with names of its own. Checked against a model of what each operation
// must produce: every operation reported exactly once, with the origin
// of the side that made it, in that side's order; nothing of one side is
// reported as the other's. The poll backend is left out: a scan cannot
// order changes within one interval, which this model requires.
func TestUnderneathMixedModel(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.Mkdir(filepath.Join(src, "shared"), 0o755))
			s.synced()

			sides := []*modelSide{
				{root: mnt, prefix: "m", origin: eventbus.OriginMount, rng: rand.New(rand.NewPCG(1, 2))},
				{root: src, prefix: "u", origin: eventbus.OriginBacking, rng: rand.New(rand.NewPCG(3, 4))},
			}
			var wg sync.WaitGroup
			for _, side := range sides {
				wg.Add(1)
				go func() {
					defer wg.Done()
					side.run(t, 300)
				}()
			}
			wg.Wait()
			evs := s.synced()
			for _, side := range sides {
				// fanotify merges a note into an earlier one about the
				// same object still queued: data and attribute changes
				// between two namespace changes can then come in either
				// order.
				side.check(t, evs, backend == "fanotify" && side.origin == eventbus.OriginBacking)
			}
		})
	}
}

// modelSide is one actor and the events its operations must produce.
type modelSide struct {
	root, prefix string
	origin       eventbus.Origin
	rng          *rand.Rand
	files, dirs  []string
	next         int
	want         []modelStep
}

// modelStep is what one operation must produce, in order; optional
// events may be missing (a write folded into the create that the
// watcher read after the data was there, say).
type modelStep struct {
	op     string
	events []modelEvent
}

type modelEvent struct {
	text     string // "type path [<- from]"
	optional bool
	// attr: any attribute change type will do. A watcher of SOURCE
	// types an attribute note by comparing with what it saw last, and
	// behind a burst what it saw last can be this very change.
	attr bool
}

func (m *modelSide) name() string {
	m.next++
	return fmt.Sprintf("%s%d", m.prefix, m.next)
}

func (m *modelSide) expect(op string, evs ...modelEvent) {
	m.want = append(m.want, modelStep{op, evs})
}

func need(s string) modelEvent     { return modelEvent{text: s} }
func optional(s string) modelEvent { return modelEvent{text: s, optional: true} }

func (m *modelSide) pick(list []string) (int, string) {
	i := m.rng.IntN(len(list))
	return i, list[i]
}

func (m *modelSide) run(t *testing.T, ops int) {
	p := func(rel string) string { return filepath.Join(m.root, rel) }
	fail := func(err error) {
		if err != nil {
			t.Errorf("%s side: %v", m.prefix, err)
		}
	}
	for range ops {
		switch r := m.rng.IntN(100); {
		case r < 25 || len(m.files) == 0:
			rel := path.Join([]string{"", "shared"}[m.rng.IntN(2)], m.name())
			fail(os.WriteFile(p(rel), []byte("data of "+rel), 0o644))
			m.files = append(m.files, rel)
			m.expect("create "+rel, need("create "+rel), optional("write "+rel))
		case r < 45:
			_, rel := m.pick(m.files)
			f, err := os.OpenFile(p(rel), os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.WriteString("more")
				fail(f.Close())
			}
			fail(err)
			m.expect("append "+rel, need("write "+rel))
		case r < 60:
			_, rel := m.pick(m.files)
			st, err := os.Stat(p(rel))
			fail(err)
			mode := os.FileMode(0o600)
			if st != nil && st.Mode().Perm() == 0o600 {
				mode = 0o644
			}
			fail(os.Chmod(p(rel), mode))
			w := need("chmod " + rel)
			w.attr = m.origin == eventbus.OriginBacking
			m.expect("chmod "+rel, w)
		case r < 75:
			i, rel := m.pick(m.files)
			to := path.Join([]string{"", "shared"}[m.rng.IntN(2)], m.name())
			fail(os.Rename(p(rel), p(to)))
			m.files[i] = to
			m.expect("rename "+rel+" to "+to, need("rename "+to+" <- "+rel))
		case r < 85:
			i, rel := m.pick(m.files)
			fail(os.Remove(p(rel)))
			m.files = append(m.files[:i], m.files[i+1:]...)
			m.expect("remove "+rel, need("remove "+rel))
		case r < 93 || len(m.dirs) == 0:
			rel := m.name() + "d"
			fail(os.Mkdir(p(rel), 0o755))
			m.dirs = append(m.dirs, rel)
			m.expect("mkdir "+rel, need("mkdir "+rel))
		default:
			i, rel := m.pick(m.dirs)
			fail(os.Remove(p(rel)))
			m.dirs = append(m.dirs[:i], m.dirs[i+1:]...)
			m.expect("rmdir "+rel, need("rmdir "+rel))
		}
	}
}

// mine: the event names one of this side's objects.
func (m *modelSide) mine(e eventbus.Event) bool {
	for _, p := range []string{e.Path, e.From} {
		if p != "" && strings.HasPrefix(path.Base(p), m.prefix) {
			return true
		}
	}
	return false
}

// check matches this side's events against its steps, object by object.
// Guarantee 2 orders events per path; across objects the kernel may
// reorder (fanotify merges a later note about one object into an earlier
// one still queued). Names are never reused in this model, so a path
// belongs to exactly one object, followed through its renames.
func (m *modelSide) check(t *testing.T, evs []eventbus.Event, anyContentOrder bool) {
	t.Helper()
	objOf := map[string]int{}
	want := map[int][]modelEvent{}
	var order []int
	for _, step := range m.want {
		for _, w := range step.events {
			kind, _, _ := strings.Cut(w.text, " ")
			p := eventPath(w.text)
			if kind == "rename" {
				_, from, _ := strings.Cut(w.text, " <- ")
				objOf[p] = objOf[from]
			} else if _, ok := objOf[p]; !ok {
				objOf[p] = len(objOf) + 1
				order = append(order, objOf[p])
			}
			want[objOf[p]] = append(want[objOf[p]], w)
		}
	}
	got := map[int][]string{}
	for _, e := range evs {
		if !m.mine(e) {
			continue
		}
		if e.Origin != m.origin {
			t.Errorf("%s side: %s %s (from %q) has origin %s, want %s", m.prefix, e.Type, e.Path, e.From, e.Origin, m.origin)
			continue
		}
		switch e.Type {
		case eventbus.CloseWrite, eventbus.Open, eventbus.Close:
			continue
		}
		s := e.Type.String() + " " + e.Path
		if e.From != "" {
			s += " <- " + e.From
		}
		id, ok := objOf[e.Path]
		if !ok {
			t.Errorf("%s side: event about a name the model never made: %s", m.prefix, s)
			continue
		}
		got[id] = append(got[id], s)
	}
	for _, id := range order {
		match := matchObject
		if anyContentOrder {
			match = matchObjectFolded
		}
		if err := match(want[id], got[id]); err != "" {
			t.Errorf("%s side: %s\n\twant %s\n\tgot  %s", m.prefix, err, texts(want[id]), strings.Join(got[id], "; "))
		}
	}
}

// matchObject checks one object's events against its expected ones, in
// order.
//
// A write may also come split in two: the mount detects writes made under
// kernel passthrough by the file's size, and a periodic check can see a
// write half done (events.md § Writes). So a write event right after the
// object's data was last shown is accepted as the rest of that write —
// never any other kind of event.
func matchObject(want []modelEvent, got []string) string {
	i := 0
	seen := map[string]bool{} // kinds of change already reported
	splitWrite := func() bool {
		return i < len(got) && seen["data"] && strings.HasPrefix(got[i], "write ")
	}
	for _, w := range want {
		for {
			if i < len(got) && (got[i] == w.text || w.attr && sameAttrChange(got[i], w.text)) {
				noteSeen(seen, got[i])
				i++
				break
			}
			if w.optional || alreadyShown(w.text, seen) {
				break
			}
			if splitWrite() {
				i++
				continue
			}
			return fmt.Sprintf("want %q, got %q", w.text, at(got, i))
		}
	}
	for splitWrite() {
		i++
	}
	if i != len(got) {
		return fmt.Sprintf("%d events beyond the model: %s", len(got)-i, strings.Join(got[i:], "; "))
	}
	return ""
}

// matchObjectFolded is matchObject where data and attribute changes
// between two namespace changes may come in any order: the namespace
// changes must match exactly and in order; between them, every change
// reported must be of a kind that happened, no kind more often than it
// happened, and every kind that happened must be reported unless an
// earlier event of the object already showed it.
func matchObjectFolded(want []modelEvent, got []string) string {
	wantSegs, gotSegs := segments(want), segmentsOf(got)
	if len(wantSegs) != len(gotSegs) {
		return fmt.Sprintf("%d namespace changes, want %d", len(gotSegs), len(wantSegs))
	}
	seen := map[string]bool{}
	for k := range wantSegs {
		w, g := wantSegs[k], gotSegs[k]
		if w.head != g.head && !(k == 0 && w.head == "" && g.head == "") {
			return fmt.Sprintf("want %q, got %q", w.head, g.head)
		}
		noteSeen(seen, g.head)
		for kind, n := range g.kinds {
			if n > w.kinds[kind] {
				return fmt.Sprintf("%d %s events after %q, want at most %d", n, kind, w.head, w.kinds[kind])
			}
			seen[kind] = true
		}
		for kind, n := range w.required {
			if n > 0 && g.kinds[kind] == 0 && !seen[kind] {
				return fmt.Sprintf("no %s event after %q", kind, w.head)
			}
		}
	}
	return ""
}

// segment is a namespace change and the content changes after it.
type segment struct {
	head     string
	kinds    map[string]int // "data" or "attr" → how many
	required map[string]int
}

func contentKind(ev string) string {
	kind, _, _ := strings.Cut(ev, " ")
	switch kind {
	case "write":
		return "data"
	case "chmod", "chown", "utimes", "setxattr":
		return "attr"
	}
	return ""
}

func segments(ws []modelEvent) []segment {
	var out []segment
	for _, w := range ws {
		if k := contentKind(w.text); k != "" && len(out) > 0 {
			out[len(out)-1].kinds[k]++
			if !w.optional {
				out[len(out)-1].required[k]++
			}
			continue
		}
		out = append(out, segment{head: w.text, kinds: map[string]int{}, required: map[string]int{}})
	}
	return out
}

func segmentsOf(got []string) []segment {
	var out []segment
	for _, g := range got {
		if k := contentKind(g); k != "" && len(out) > 0 {
			out[len(out)-1].kinds[k]++
			continue
		}
		out = append(out, segment{head: g, kinds: map[string]int{}, required: map[string]int{}})
	}
	return out
}

func texts(ws []modelEvent) string {
	var out []string
	for _, w := range ws {
		s := w.text
		if w.optional {
			s += "?"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// noteSeen records what kind of change an event reported.
func noteSeen(seen map[string]bool, ev string) {
	kind, _, _ := strings.Cut(ev, " ")
	switch kind {
	case "create":
		seen["data"] = true
	}
	if k := contentKind(ev); k != "" {
		seen[k] = true
	}
}

// alreadyShown: a data or attribute change can come folded into an
// earlier event about the same file. The kernel merges notes not yet
// read, and a note read late is described by the file as it is then,
// which already shows the later change (the mount folds writes per
// interval, too). Namespace changes are never folded.
func alreadyShown(want string, seen map[string]bool) bool {
	kind, _, _ := strings.Cut(want, " ")
	switch kind {
	case "write":
		return seen["data"]
	case "chmod":
		return seen["attr"]
	}
	return false
}

func sameAttrChange(got, want string) bool {
	for _, t := range []string{"chmod ", "chown ", "utimes ", "setxattr "} {
		if p, ok := strings.CutPrefix(got, t); ok {
			return "chmod "+p == want
		}
	}
	return false
}

func eventPath(s string) string {
	_, rest, _ := strings.Cut(s, " ")
	p, _, _ := strings.Cut(rest, " <- ")
	return p
}

func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return "(nothing)"
}
