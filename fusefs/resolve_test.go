package fusefs

import "testing"

func TestSplitJoinRel(t *testing.T) {
	for _, c := range []struct{ rel, dir, name string }{
		{"", "", "."}, {"a", "", "a"}, {"a/b", "a", "b"}, {"a/b/c", "a/b", "c"},
	} {
		d, n := splitRel(c.rel)
		if d != c.dir || n != c.name {
			t.Errorf("splitRel(%q) = %q, %q", c.rel, d, n)
		}
		if c.rel != "" && joinRel(d, n) != c.rel {
			t.Errorf("joinRel(%q, %q) = %q", d, n, joinRel(d, n))
		}
	}
}
