//go:build darwin || freebsd

package kqshim

// kernelBackends: kqueue, with a descriptor per watched vnode.
func kernelBackends() []namedOpener {
	return []namedOpener{{"kqueue", openKqueue}}
}
