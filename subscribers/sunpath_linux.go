package subscribers

// sunPathMax is the size of sockaddr_un.sun_path. Go needs room for the
// terminating NUL of a path name, so paths must be shorter than this.
const sunPathMax = 108
