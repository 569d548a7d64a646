package eventbus

// The journal directory: who may write in it, and creating files in it
// through a descriptor of the directory that was checked.

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openJournalDir creates dir if needed (0700) and opens it, refusing a
// directory that another user owns or that others can write: anyone who
// can write in it can plant a symlink where the next segment goes, or
// swap the files a restart recovers from. The message says how to fix it.
func openJournalDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (the journal directory must be a real directory, not a symlink)", ErrJournal, dir, err)
	}
	f := os.NewFile(uintptr(fd), dir)
	if err := checkDirTrust(f, dir, uint32(os.Geteuid())); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkDirTrust checks the open directory's owner and mode.
func checkDirTrust(d *os.File, dir string, euid uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJournal, dir, err)
	}
	if st.Uid != euid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by the daemon's user (uid %d): the journal must be private to the daemon; use another --journal directory, or chown %d %s", ErrJournal, dir, st.Uid, euid, euid, dir)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by others (mode %04o): anyone who can write in it could redirect the daemon's writes; run chmod go-w %s, or use another --journal directory", ErrJournal, dir, st.Mode&0o7777, dir)
	}
	return nil
}

// createExcl creates a new file in the journal directory, through the
// directory's descriptor: never through a symlink, never over an existing
// file, so that a name planted there cannot make the daemon write
// anywhere else even if the directory check were defeated.
func (j *journal) createExcl(name string) (*os.File, error) {
	fd, err := unix.Openat(int(j.dirf.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: j.dir + "/" + name, Err: err}
	}
	return os.NewFile(uintptr(fd), j.dir+"/"+name), nil
}

// openNoFollow opens an existing journal file, never through a symlink.
func openNoFollow(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// writeFileSync writes a small file in the journal directory atomically
// and durably.
func (j *journal) writeFileSync(name string, data []byte) error {
	dfd := int(j.dirf.Fd())
	tmp := name + ".tmp"
	unix.Unlinkat(dfd, tmp, 0) // left by a crash; unlink never follows a symlink
	f, err := j.createExcl(tmp)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("%w: %s: %w", ErrJournal, name, err)
	}
	j.dirf.Sync()
	return nil
}

// writeFile writes a small file in place without fsync (SyncNever's
// reservation), never through a symlink.
func (j *journal) writeFile(name string, data []byte) error {
	fd, err := unix.Openat(int(j.dirf.Fd()), name, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJournal, name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJournal, name, err)
	}
	return nil
}
