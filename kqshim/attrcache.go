package kqshim

// The attribute cache: the last attributes seen of each inode, so that
// an attribute note can be typed (chmod, chown or utimes).

import (
	"sync"
)

// attrCache remembers the last attributes seen of each inode, so that an
// attribute note can be typed. It is bounded: past maxAttrs it starts
// over (attribute changes of objects it forgot are reported as chmod).
type attrCache struct {
	mu    sync.Mutex
	m     map[uint64]entry
	names map[string]uint64 // the inode last seen at each path
}

// named records that rel was last seen to be inode ino.
func (c *attrCache) named(rel string, ino uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil || len(c.names) >= maxAttrs {
		c.names = map[string]uint64{}
	}
	c.names[rel] = ino
}

// unnamed forgets rel and returns the inode last seen there (0: none).
func (c *attrCache) unnamed(rel string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ino := c.names[rel]
	delete(c.names, rel)
	return ino
}

const maxAttrs = 1 << 20

func (c *attrCache) swap(e entry) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, ok := c.m[e.Ino]
	if ok && !sameObject(prev, e) {
		ok = false
	}
	if len(c.m) >= maxAttrs {
		c.m = map[uint64]entry{}
	}
	c.m[e.Ino] = e
	return prev, ok
}

func (c *attrCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
