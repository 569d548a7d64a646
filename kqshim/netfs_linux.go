package kqshim

import "golang.org/x/sys/unix"

// networkFilesystems are the statfs magic numbers of filesystems whose
// changes can be made by other machines (or, for FUSE, by a process that
// the local kernel does not see): the local kernel's notes miss those,
// so only polling sees every change.
var networkFilesystems = map[int64]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x65735546: "fuse",
	0x00c36400: "ceph",
	0x01021997: "9p",
	0x5346414f: "afs",
	0x73757245: "coda",
	0x7461636f: "ocfs2",
	0x01161970: "gfs2",
	0x47504653: "gpfs",
	0x0bd00bd0: "lustre",
}

// networkFS names the filesystem of path if it is one whose changes the
// local kernel may not see ("" otherwise).
func networkFS(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return ""
	}
	return networkFilesystems[int64(st.Type)&0xffffffff]
}
