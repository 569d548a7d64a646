//go:build !linux

package subscribers

// sunPathMax is the size of sockaddr_un.sun_path on the BSDs and macOS
// (104), also assumed elsewhere as the smaller common value. Go needs
// room for the terminating NUL, so paths must be shorter than this.
const sunPathMax = 104
