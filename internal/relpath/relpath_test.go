package relpath

import "testing"

func TestRelpath(t *testing.T) {
	for _, c := range []struct{ dir, name, joined string }{{"", "a", "a"}, {"a", "b", "a/b"}, {"a/b", "c", "a/b/c"}} {
		if got := Join(c.dir, c.name); got != c.joined {
			t.Errorf("Join(%q, %q) = %q", c.dir, c.name, got)
		}
		if got := Dir(c.joined); got != c.dir {
			t.Errorf("Dir(%q) = %q", c.joined, got)
		}
	}
	for in, want := range map[string]string{"/a/../b/": "b", "./b": "b", "b": "b", "..": "", "": "", "/": ""} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		p, prefix string
		want      bool
	}{{"a/b", "a", true}, {"a", "a", true}, {"ab", "a", false}, {"a", "a/b", false}, {"x", "", true}, {"/s/a", "/s", true}, {"/sa", "/s", false}} {
		if got := Under(c.p, c.prefix); got != c.want {
			t.Errorf("Under(%q, %q) = %v", c.p, c.prefix, got)
		}
	}
	for _, c := range []struct {
		root, abs, rel string
		ok             bool
	}{{"/s", "/s", "", true}, {"/s", "/s/a/b", "a/b", true}, {"/s", "/sa", "", false}, {"/", "/a", "a", true}, {"/s", "/", "", false}} {
		if rel, ok := Rel(c.root, c.abs); rel != c.rel || ok != c.ok {
			t.Errorf("Rel(%q, %q) = %q, %v", c.root, c.abs, rel, ok)
		}
	}
}
