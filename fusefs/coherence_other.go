//go:build !linux

package fusefs

// freshenOnOpen does nothing here: macOS and FreeBSD have no way to ask
// past a network filesystem's attribute cache; their NFS clients
// revalidate on open by themselves.
func (f *FS) freshenOnOpen(fd int) {}
