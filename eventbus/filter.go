package eventbus

import (
	"fmt"
	"path"
	"strings"
)

// Filter selects the events a subscription receives. The zero Filter
// selects DefaultTypes everywhere.
type Filter struct {
	// Types to deliver; 0 means DefaultTypes. Control types are always
	// delivered.
	Types TypeMask
	// Prefixes are paths relative to the mount root; an event matches when
	// its path (or, for rename/link, its from) is a prefix or lies beneath
	// one. Empty = everywhere.
	Prefixes []string
	// Globs are path.Match patterns against the whole relative path, with
	// "**" matching any number of components. An event must match a
	// prefix or a glob when either list is set.
	Globs []string
	// Excludes are prefixes or globs; a matching event is dropped even if
	// it matches Prefixes/Globs (a rename is dropped only when both of its
	// paths are excluded).
	Excludes []string
}

// Validate normalises the filter and reports malformed patterns.
func (f *Filter) Validate() error {
	for i, p := range f.Prefixes {
		f.Prefixes[i] = cleanRel(p)
	}
	for _, list := range [][]string{f.Globs, f.Excludes} {
		for i, g := range list {
			list[i] = cleanRel(g)
			if _, err := path.Match(strings.ReplaceAll(list[i], "**", "*"), ""); err != nil {
				return fmt.Errorf("eventbus: bad pattern %q: %w", g, err)
			}
		}
	}
	if f.Types == 0 {
		f.Types = DefaultTypes
	}
	return nil
}

// cleanRel makes a user-supplied path relative to the mount root.
func cleanRel(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// Match reports whether the event passes the filter.
func (f *Filter) Match(e *Event) bool {
	if ControlTypes.Has(e.Type) {
		return true
	}
	types := f.Types
	if types == 0 {
		types = DefaultTypes
	}
	if !types.Has(e.Type) {
		return false
	}
	if len(f.Prefixes) == 0 && len(f.Globs) == 0 && len(f.Excludes) == 0 {
		return true
	}
	ok := f.matchPath(e.Path)
	if !ok && e.From != "" {
		ok = f.matchPath(e.From)
	}
	return ok
}

func (f *Filter) matchPath(p string) bool {
	for _, x := range f.Excludes {
		if underPrefix(p, x) || globMatch(x, p) {
			return false
		}
	}
	if len(f.Prefixes) == 0 && len(f.Globs) == 0 {
		return true
	}
	for _, pre := range f.Prefixes {
		if underPrefix(p, pre) {
			return true
		}
	}
	for _, g := range f.Globs {
		if globMatch(g, p) {
			return true
		}
	}
	return false
}

// underPrefix is component-wise: "a/b" is under "a" but "ab" is not.
func underPrefix(p, prefix string) bool {
	if prefix == "" {
		return true
	}
	return p == prefix || (strings.HasPrefix(p, prefix) && p[len(prefix)] == '/')
}

// globMatch matches pattern against name component by component; a "**"
// component matches zero or more components.
func globMatch(pattern, name string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchParts(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchParts(pat[1:], name[i:]) {
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
