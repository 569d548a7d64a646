package event

import (
	"math/rand/v2"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPrefixComponentWise(t *testing.T) {
	f := Filter{Prefixes: []string{"a", "x/y/"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"a": true, "a/b": true, "a/b/c": true, "ab": false, "b/a": false, "": false,
		"x/y": true, "x/y/z": true, "x/yz": false, "x": false,
	} {
		if got := f.Match(&Event{Type: Create, Path: p}); got != want {
			t.Errorf("%q: got %v", p, got)
		}
	}
	root := Filter{Prefixes: []string{"/"}}
	if err := root.Validate(); err != nil {
		t.Fatal(err)
	}
	if !root.Match(&Event{Type: Create, Path: "anything/at/all"}) || !root.Match(&Event{Type: Create}) {
		t.Error("root prefix should match everything")
	}
}

// oldGlobMatch is the previous, exponential implementation: the
// reference for the semantics.
func oldGlobMatch(pattern, name string) bool {
	return oldMatchParts(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func oldMatchParts(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if oldMatchParts(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"", "", true},
		{"", "a", false},
		{"**", "", true},
		{"**", "a/b/c", true},
		{"*", "a", true},
		{"*", "a/b", false},
		{"*.go", "x.go", true},
		{"*.go", "d/x.go", false},
		{"**/*.go", "x.go", true},
		{"**/*.go", "d/e/x.go", true},
		{"**/*.go", "d/e/x.c", false},
		{"a/**", "a", true},
		{"a/**", "a/b/c", true},
		{"a/**", "ab", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/**/b/**/c", "a/b/b/c/c", true},
		{"a/**/b/**/c", "a/c/b", false},
		{"**/**", "a", true},
		{"**/x/**", "a/x", true},
		{"**/x/**", "x", true},
		{"**/x/**", "a/b", false},
		{"a?c/[xy]", "abc/y", true},
		{"a?c/[xy]", "abc/z", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"a**b", "axxb", true}, // not a "**" component: path.Match's *
		{"[", "[", false},      // malformed: matches nothing
	} {
		if got := globMatch(c.pat, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.name, got, c.want)
		}
		if ref := oldGlobMatch(c.pat, c.name); ref != c.want {
			t.Errorf("reference globMatch(%q, %q) = %v, want %v", c.pat, c.name, ref, c.want)
		}
	}
}

// allJoined returns every "/"-joined sequence of 1..max components from set.
func allJoined(set []string, max int) []string {
	var out, prev []string
	prev = []string{""}
	for n := 1; n <= max; n++ {
		var next []string
		for _, p := range prev {
			for _, c := range set {
				if n == 1 {
					next = append(next, c)
				} else {
					next = append(next, p+"/"+c)
				}
			}
		}
		out = append(out, next...)
		prev = next
	}
	return out
}

// The new matcher agrees with the old one on every small input ...
func TestGlobMatchExhaustive(t *testing.T) {
	for _, pat := range allJoined([]string{"**", "*", "a", "b", ""}, 4) {
		for _, name := range allJoined([]string{"a", "b", ""}, 4) {
			if got, want := globMatch(pat, name), oldGlobMatch(pat, name); got != want {
				t.Fatalf("globMatch(%q, %q) = %v, reference says %v", pat, name, got, want)
			}
		}
	}
}

// ... and on random larger ones.
func TestGlobMatchAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patComps := []string{"**", "*", "a", "b", "?", "[ab]", "a*", "", "**"}
	nameComps := []string{"a", "b", "ab", "ba", "", "c"}
	join := func(set []string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = set[r.IntN(len(set))]
		}
		return strings.Join(parts, "/")
	}
	for range 200000 {
		pat := join(patComps, 1+r.IntN(7))
		name := join(nameComps, 1+r.IntN(8))
		if got, want := globMatch(pat, name), oldGlobMatch(pat, name); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference says %v", pat, name, got, want)
		}
	}
}

func TestGlobPathological(t *testing.T) {
	long := strings.Repeat("a/", 49) + "y"    // 50 components, no "x"
	longer := strings.Repeat("a/", 999) + "y" // 1000
	start := time.Now()
	for _, c := range []struct{ pat, name string }{
		{"**/**/**/**/**/x", long},
		{strings.Repeat("**/", 20) + "x", long},
		{strings.Repeat("**/a/", 20) + "x", longer},
		{strings.Repeat("**/*/", 30) + "x", longer},
	} {
		if globMatch(c.pat, c.name) {
			t.Errorf("%q matched", c.pat)
		}
		if !globMatch(strings.TrimSuffix(c.pat, "x")+"y", c.name) {
			t.Errorf("%q did not match", strings.TrimSuffix(c.pat, "x")+"y")
		}
	}
	f := Filter{Globs: []string{"**/**/**/**/**/x"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if f.Match(&Event{Type: Create, Path: long}) {
		t.Error("matched")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestFilterExcludes(t *testing.T) {
	f := Filter{Excludes: []string{".git", "**/*.tmp"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"src/a.go": true, ".git": false, ".git/HEAD": false, ".gitignore": true,
		"x.tmp": false, "a/b/x.tmp": false, "a/b/x.tmpl": true,
	} {
		if got := f.Match(&Event{Type: Write, Path: p}); got != want {
			t.Errorf("%q: got %v", p, got)
		}
	}
	g := Filter{Prefixes: []string{"src"}, Globs: []string{"**/*.md"}, Excludes: []string{"src/gen"}}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"src/a.go": true, "src/gen/x.go": false, "doc/x.md": true, "src/gen/x.md": false, "doc/x.txt": false,
	} {
		if got := g.Match(&Event{Type: Write, Path: p}); got != want {
			t.Errorf("%q: got %v", p, got)
		}
	}
}

func TestFilterRenameAndLinkByFrom(t *testing.T) {
	f := Filter{Prefixes: []string{"a"}, Excludes: []string{"a/skip"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ      Type
		from, to string
		want     bool
	}{
		{Rename, "a/x", "b/x", true},  // moved out: matched by from
		{Rename, "b/x", "a/x", true},  // moved in
		{Rename, "c/x", "d/x", false}, // elsewhere
		{Rename, "a/skip/x", "a/y", true},
		{Rename, "a/x", "a/skip/x", true}, // only one side excluded
		{Rename, "a/skip/x", "a/skip/y", false},
		{Link, "a/x", "b/x", true},
		{Link, "b/x", "c/x", false},
	} {
		e := &Event{Type: c.typ, Path: c.to, From: c.from}
		if got := f.Match(e); got != c.want {
			t.Errorf("%v %s -> %s: got %v", c.typ, c.from, c.to, got)
		}
	}
}

func TestFilterTypes(t *testing.T) {
	var zero Filter // not validated: Types 0 means DefaultTypes
	for _, name := range AllTypeNames() {
		typ, _ := ParseType(name)
		want := !OptInTypes.Has(typ)
		if got := zero.Match(&Event{Type: typ}); got != want {
			t.Errorf("zero filter, %v: %v", typ, got)
		}
	}
	f := Filter{Types: MaskOf(Open), Prefixes: []string{"a"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if !f.Match(&Event{Type: Open, Path: "a"}) || f.Match(&Event{Type: Create, Path: "a"}) || f.Match(&Event{Type: Open, Path: "b"}) {
		t.Error("type filter")
	}
	// Control events pass whatever the types and paths say.
	for _, typ := range []Type{Overflow, Rescan, Reset, Unmount} {
		if !f.Match(&Event{Type: typ, Path: "elsewhere"}) {
			t.Errorf("%v filtered", typ)
		}
	}
	if f.Match(&Event{Type: TypeNone, Unknown: "future"}) {
		t.Error("unknown type matched")
	}
}

func TestFilterValidate(t *testing.T) {
	for _, bad := range []string{"[", "a/[b", `x\`, "**/[a-", "ok/**/[z"} {
		for _, f := range []Filter{{Globs: []string{"ok", bad}}, {Excludes: []string{bad}}} {
			err := f.Validate()
			if err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
				t.Errorf("%q: error %v", bad, err)
			}
		}
	}
	globs := []string{"/a/../b/**", "./c//*.go"}
	f := Filter{Prefixes: []string{"/x/", "y/.."}, Globs: globs}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if f.Types != DefaultTypes || f.Prefixes[0] != "x" || f.Prefixes[1] != "" || f.Globs[0] != "b/**" || f.Globs[1] != "c/*.go" {
		t.Errorf("normalised: %+v", f)
	}
	if globs[0] != "/a/../b/**" {
		t.Error("Validate modified the caller's slice")
	}
	if err := f.Validate(); err != nil || f.Globs[0] != "b/**" {
		t.Error("Validate not idempotent")
	}
}

func TestFilterMatchDoesNotAllocate(t *testing.T) {
	f := Filter{
		Prefixes: []string{"src", "docs"},
		Globs:    []string{"**/*.go", "a/**/b/*.[ch]"},
		Excludes: []string{"**/vendor/**", ".git"},
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	evs := []*Event{
		{Type: Create, Path: "src/x/y.go"},
		{Type: Write, Path: "other/deep/path/z.c"},
		{Type: Rename, Path: "p/q", From: "a/x/y/b/m.h"},
		{Type: Write, Path: "src/vendor/lib/x.go"},
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, e := range evs {
			f.Match(e)
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times", allocs)
	}
}
