package subscribers

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

// visibility decides, for one peer that is neither root nor the daemon's
// user, which events it may see: those whose path it could look up
// itself, that is, for which it has search permission on every
// directory from SOURCE's root down to the path's parent. The object's
// own mode does not matter (a name in a directory one may search is no
// secret), nor do the directories above SOURCE (the mount's own
// permissions answer for those).
//
// Permissions are read from SOURCE when the event is delivered, not when
// it happened: what is hidden now stays hidden, also for events from
// before the directory was closed off.
//
// ACLs: a directory carrying a POSIX access ACL is treated as searchable
// only by its owner (hasACL): the mode bits of such a directory do not
// say who may search it, and guessing wrong would reveal names. A peer
// that an ACL lets in may therefore miss events there; that is the safe
// direction.
//
// Decisions are cached per directory; any event that can change what a
// directory lets through (chmod, chown, rename or removal of a
// directory, ACL changes) clears the cache, since a directory's
// decision depends on all its ancestors. Only the connection's writer
// goroutine uses it.
type visibility struct {
	root string // SOURCE
	uid  uint32
	gids []uint32 // primary and supplementary
	dirs map[string]bool
}

// visibilityCacheMax bounds the cache (a peer watching a huge tree must
// not grow it without end); beyond it the cache starts over.
const visibilityCacheMax = 1 << 14

func newVisibility(root string, uid uint32, gids []uint32) *visibility {
	return &visibility{root: root, uid: uid, gids: gids, dirs: make(map[string]bool)}
}

// filter returns e as the peer may see it: e itself, nil when it may
// not see it at all, or — a rename or link between a place it may see
// and one it may not — a copy describing what it can observe: a name
// appearing (create, or mkdir for a directory) or going (remove or
// rmdir).
func (v *visibility) filter(e *event.Event) *event.Event {
	if event.ControlTypes.Has(e.Type) {
		return e
	}
	v.invalidate(e)
	pv := v.visible(e.Path)
	if e.From == "" {
		if pv {
			return e
		}
		return nil
	}
	fv := v.visible(e.From)
	switch {
	case pv && fv:
		return e
	case !pv && !fv:
		return nil
	}
	c := *e
	c.From, c.Replaced, c.Exchange = "", false, false
	switch {
	case e.Type == event.Rename && e.Exchange:
		// Both names exist afterwards; the visible one now names
		// another object.
		c.Type = appeared(e.IsDir)
		if !pv {
			c.Path = e.From
		}
	case pv: // moved or linked in from a hidden place
		c.Type = appeared(e.IsDir)
	case e.Type == event.Rename: // moved out to a hidden place
		c.Path = e.From
		c.Type = event.Remove
		if e.IsDir {
			c.Type = event.Rmdir
		}
	default: // a link made in a hidden place to a visible file
		return nil
	}
	return &c
}

func appeared(isDir bool) event.Type {
	if isDir {
		return event.Mkdir
	}
	return event.Create
}

// invalidate forgets the cached decisions an event may have changed.
func (v *visibility) invalidate(e *event.Event) {
	switch e.Type {
	case event.Chmod, event.Chown, event.Rmdir:
		clear(v.dirs)
	case event.Rename:
		if e.IsDir || e.Exchange {
			clear(v.dirs)
		}
	case event.Mkdir:
		delete(v.dirs, e.Path) // a directory of that name may have been there before
	case event.Setxattr, event.Removexattr:
		if strings.HasPrefix(e.Xattr, "system.posix_acl") {
			clear(v.dirs)
		}
	}
}

// visible reports whether the peer could look p up.
func (v *visibility) visible(p string) bool {
	if p == "" {
		return true // the mount's root
	}
	return v.canSearch(relpath.Dir(p))
}

// canSearch reports whether the peer may search dir and every directory
// above it.
func (v *visibility) canSearch(dir string) bool {
	if ok, hit := v.dirs[dir]; hit {
		return ok
	}
	ok := true
	if dir != "" {
		ok = v.canSearch(relpath.Dir(dir))
	}
	cache := true
	if ok {
		ok, cache = v.searchable(filepath.Join(v.root, dir))
	}
	if cache {
		if len(v.dirs) >= visibilityCacheMax {
			clear(v.dirs)
		}
		v.dirs[dir] = ok
	}
	return ok
}

// searchable checks one directory, whose ancestors have been checked
// (so that Lstat walks only real directories the peer may search). A
// directory that is gone is not cached: one of that name may come.
func (v *visibility) searchable(abs string) (ok, cache bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(abs, &st); err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return false, true // not a directory (a symlink, say): nothing to search
	}
	if st.Uid == v.uid {
		return st.Mode&0o100 != 0, true
	}
	if hasACL(abs) {
		return false, true
	}
	if slices.Contains(v.gids, st.Gid) {
		return st.Mode&0o010 != 0, true
	}
	return st.Mode&0o001 != 0, true
}
