package event

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/notifyfs/notifyfs/internal/relpath"
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

// Limits on a filter's patterns. Glob matching takes O(pattern
// components × path components) steps (globMatch), so bounding the
// patterns' components bounds what one event can cost a subscription;
// the figures are in docs/operations.md.
const (
	// MaxPatternBytes bounds one glob, exclude or prefix.
	MaxPatternBytes = 4096
	// MaxPatternComponents bounds the components of one glob or exclude.
	MaxPatternComponents = 32
	// MaxGlobComponents bounds the components of all the globs and
	// excludes of one filter together.
	MaxGlobComponents = 128
)

// ErrFilterLimit is wrapped by Validate's errors about the limits.
var ErrFilterLimit = errors.New("event: filter over its limits")

// Validate normalises the filter and reports malformed patterns. It
// replaces the slices with normalised copies rather than rewriting them
// in place, so a caller's slices are never modified.
func (f *Filter) Validate() error {
	total := 0
	for _, p := range slices.Concat(f.Prefixes, f.Globs, f.Excludes) {
		if len(p) > MaxPatternBytes {
			return fmt.Errorf("%w: a pattern of %d bytes; at most %d are allowed", ErrFilterLimit, len(p), MaxPatternBytes)
		}
	}
	for _, g := range slices.Concat(f.Globs, f.Excludes) {
		n := 1 + strings.Count(g, "/")
		if n > MaxPatternComponents {
			return fmt.Errorf("%w: pattern %.40q... has %d components; at most %d are allowed", ErrFilterLimit, g, n, MaxPatternComponents)
		}
		total += n
	}
	if total > MaxGlobComponents {
		return fmt.Errorf("%w: the globs and excludes have %d components together; at most %d are allowed", ErrFilterLimit, total, MaxGlobComponents)
	}
	if f.Prefixes != nil {
		ps := make([]string, len(f.Prefixes))
		for i, p := range f.Prefixes {
			ps[i] = relpath.Clean(p)
		}
		f.Prefixes = ps
	}
	var err error
	if f.Globs, err = cleanPatterns(f.Globs); err != nil {
		return err
	}
	if f.Excludes, err = cleanPatterns(f.Excludes); err != nil {
		return err
	}
	if f.Types == 0 {
		f.Types = DefaultTypes
	}
	return nil
}

// cleanPatterns returns normalised copies of the patterns, or an error
// naming the first malformed one.
func cleanPatterns(list []string) ([]string, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]string, len(list))
	for i, g := range list {
		out[i] = relpath.Clean(g)
		if err := checkPattern(out[i]); err != nil {
			return nil, fmt.Errorf("event: bad pattern %q: %w", g, err)
		}
	}
	return out, nil
}

// checkPattern reports a syntax error in any component of the pattern.
func checkPattern(pattern string) error {
	for i := 0; i <= len(pattern); {
		var c string
		c, i = component(pattern, i)
		if c == "**" {
			continue
		}
		// path.Match checks the whole pattern even when it does not
		// match (Go ≥ 1.16).
		if _, err := path.Match(c, ""); err != nil {
			return err
		}
	}
	return nil
}

// Match reports whether the event passes the filter. It does not
// allocate.
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
		if relpath.Under(p, x) || globMatch(x, p) {
			return false
		}
	}
	if len(f.Prefixes) == 0 && len(f.Globs) == 0 {
		return true
	}
	for _, pre := range f.Prefixes {
		if relpath.Under(p, pre) {
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

// component returns the "/"-separated component of s that starts at byte
// offset i, and the offset of the next one; after the last component
// that is len(s)+1. Walking s this way from 0 yields exactly
// strings.Split(s, "/") ("" is one empty component) without allocating.
func component(s string, i int) (string, int) {
	// A plain loop: components are short, and strings.IndexByte's setup
	// costs more than it saves on them.
	for j := i; j < len(s); j++ {
		if s[j] == '/' {
			return s[i:j], j + 1
		}
	}
	return s[i:], len(s) + 1
}

// globMatch matches pattern against name component by component; a "**"
// component matches zero or more components, any other component is a
// path.Match pattern for exactly one component. It allocates nothing and
// takes O(len(pattern)·len(name)) component comparisons whatever the
// number of "**".
//
// The components after the last "**" (the tail) can only match the same
// number of components at the end of name, so they are checked first
// (the common "**/*.go" is then one comparison); what is left is matched
// by matchComponents.
func globMatch(pattern, name string) bool {
	star := -1 // offset of the last "**" component
	for p := 0; p <= len(pattern); {
		c, next := component(pattern, p)
		if c == "**" {
			star = p
		}
		p = next
	}
	headEnd := star + 3 // just after "**/"
	if star < 0 || headEnd > len(pattern) {
		// No "**", or it is the last component: no tail to split off.
		return matchComponents(pattern, len(pattern)+1, name, len(name)+1)
	}
	// Find where the last k components of name start, k being the
	// number of components in the tail.
	tail := pattern[headEnd:]
	cut := len(name) + 1
	for k := 1 + strings.Count(tail, "/"); k > 0; k-- {
		if cut == 0 {
			return false // name has fewer components than the tail
		}
		cut--
		for cut > 0 && name[cut-1] != '/' {
			cut--
		}
	}
	return matchComponents(tail, len(tail)+1, name[cut:], len(name)-cut+1) &&
		matchComponents(pattern, headEnd, name, cut)
}

// matchComponents matches the components of pattern that start before
// offset pEnd against those of name that start before nEnd (so nEnd 0 is
// no components at all, and len(s)+1 is all of s).
//
// Because every component other than "**" matches exactly one name
// component, the classic greedy wildcard algorithm applies, with "**" in
// the role of "*" and components in the role of characters: only the
// most recent "**" needs to be remembered as a restart point (letting an
// earlier one absorb more cannot help once a later one has been
// reached). That is O(len(pattern)·len(name)) component comparisons.
func matchComponents(pattern string, pEnd int, name string, nEnd int) bool {
	p, n := 0, 0          // offsets of the next pattern and name components
	starP, starN := -1, 0 // after the last "**": pattern offset, name offset it has absorbed up to
	for n < nEnd {
		if p < pEnd {
			pc, pnext := component(pattern, p)
			if pc == "**" {
				if pnext >= pEnd {
					return true // a trailing "**" takes whatever is left
				}
				starP, starN = pnext, n
				p = pnext
				continue
			}
			nc, nnext := component(name, n)
			if matchComponent(pc, nc) {
				p, n = pnext, nnext
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last "**" absorb one more component and retry.
		_, starN = component(name, starN)
		p, n = starP, starN
	}
	// The name is used up: what is left of the pattern must be "**"s.
	for p < pEnd {
		var pc string
		if pc, p = component(pattern, p); pc != "**" {
			return false
		}
	}
	return true
}

// matchComponent matches one pattern component against one name
// component; a malformed pattern matches nothing.
func matchComponent(pattern, name string) bool {
	// Fast paths for the common shapes: "lit", "*", "*lit" and "lit*".
	m := metaIndex(pattern)
	switch {
	case m < 0:
		return pattern == name
	case pattern == "*":
		return true // name is one component: it holds no "/"
	case m == 0 && pattern[0] == '*' && metaIndex(pattern[1:]) < 0:
		return strings.HasSuffix(name, pattern[1:])
	case m == len(pattern)-1 && pattern[m] == '*':
		return strings.HasPrefix(name, pattern[:m])
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// metaIndex is the index of the first path.Match metacharacter in s, or -1.
func metaIndex(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			return i
		}
	}
	return -1
}
