package relpath

import (
	"path"
	"strings"
)

// Join joins a directory and a name; the root's children have no
// leading slash.
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Dir returns the directory part of rel ("" for a child of the root).
func Dir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// Clean makes a user-supplied path relative to the root: "/a/../b/",
// "./b" and "b" are all "b"; anything above the root is the root.
func Clean(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// Under reports whether p is prefix or lies beneath it, component-wise.
// Every path is under "" (the root). It works for absolute paths too,
// given a prefix without a trailing slash.
func Under(p, prefix string) bool {
	if prefix == "" {
		return true
	}
	return p == prefix || (strings.HasPrefix(p, prefix) && len(p) > len(prefix) && p[len(prefix)] == '/')
}

// Rel turns the absolute path abs into one relative to the absolute
// directory root; false if abs is not root or beneath it.
func Rel(root, abs string) (string, bool) {
	if abs == root {
		return "", true
	}
	if root == "/" {
		if strings.HasPrefix(abs, "/") {
			return abs[1:], true
		}
		return "", false
	}
	if r, ok := strings.CutPrefix(abs, root); ok && strings.HasPrefix(r, "/") {
		return r[1:], true
	}
	return "", false
}
