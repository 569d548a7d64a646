package kqshim

// kernelBackends are Linux's, best first: fanotify needs CAP_SYS_ADMIN
// and a filesystem that reports file handles; inotify works everywhere
// but needs a watch per directory.
func kernelBackends() []namedOpener {
	return []namedOpener{{"fanotify", openFanotify}, {"inotify", openInotify}}
}
