//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The server side: mount(2) on /dev/fuse, INIT, then either transport.

func mountFuse(mnt string) (int, error) {
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/fuse: %w", err)
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd)
	if err := unix.Mount("uringproto", mnt, "fuse", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mount -t fuse %s (%s): %w", mnt, opts, err)
	}
	return fd, nil
}

// unmount detaches mnt if it is a mount point of ours.
func unmount(mnt string) {
	if isMounted(mnt) {
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
}

func isMounted(mnt string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && unescapeMount(f[1]) == mnt {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// devLoop is the classic transport: read(2) a request from /dev/fuse,
// handle it, write(2) the reply. It returns at unmount (ENODEV).
func devLoop(s *server, fd int) error {
	buf := make([]byte, maxWrite+4096)
	wbuf := make([]byte, maxWrite+4096)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			switch err {
			case unix.EINTR, unix.EAGAIN, unix.ENOENT:
				continue
			case unix.ENODEV:
				return nil
			}
			return fmt.Errorf("read /dev/fuse: %w", err)
		}
		if n < inHeaderSize {
			continue
		}
		h := parseInHeader(buf)
		if h.opcode < opMax {
			s.counts[pathDev][h.opcode].Add(1)
		}
		as := min(inHeaderSize+argSize(h.opcode), n)
		rn, errno := s.handle(&h, buf[inHeaderSize:as], buf[as:n], wbuf[outHeaderSize:])
		if noReply(h.opcode) {
			continue
		}
		if errno != 0 {
			rn = 0
		}
		putOutHeader(wbuf, outHeaderSize+rn, -int32(errno), h.unique)
		if _, err := unix.Write(fd, wbuf[:outHeaderSize+rn]); err != nil && err != unix.ENOENT {
			if err == unix.ENODEV {
				return nil
			}
			return fmt.Errorf("write /dev/fuse (%s): %w", opName(h.opcode), err)
		}
	}
}

// doInit reads INIT from /dev/fuse and answers it.
func doInit(fd int, uring bool) (bool, error) {
	buf := make([]byte, maxWrite+4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read INIT: %w", err)
		}
		h := parseInHeader(buf[:n])
		if h.opcode != opInit {
			return false, fmt.Errorf("first request is %s, not INIT", opName(h.opcode))
		}
		out := make([]byte, outHeaderSize+initOutSize)
		rn, got, ierr := initReply(buf[inHeaderSize:n], out[outHeaderSize:], uring)
		if ierr != nil {
			putOutHeader(out, outHeaderSize, -int32(unix.EPROTO), h.unique)
			unix.Write(fd, out[:outHeaderSize])
			return false, ierr
		}
		putOutHeader(out, outHeaderSize+rn, 0, h.unique)
		if _, err := unix.Write(fd, out[:outHeaderSize+rn]); err != nil {
			return false, fmt.Errorf("write INIT reply: %w", err)
		}
		return got, nil
	}
}

// serveMain is `uringproto serve`: mount, serve until unmounted. It
// prints "ready" once requests flow over the chosen transport, a JSON
// line of request counts on SIGUSR1 and at the end.
func serveMain(args []string) error {
	fl := flag.NewFlagSet("serve", flag.ExitOnError)
	transport := fl.String("transport", "classic", "classic (read/write on /dev/fuse) or uring (FUSE over io_uring)")
	mnt := fl.String("mnt", "", "mount point")
	src := fl.String("src", "", "backing directory (passthrough); empty: in memory")
	ttl := fl.Duration("ttl", 0, "entry and attribute lifetime given to the kernel")
	workers := fl.Int("workers", 4, "classic: goroutines reading /dev/fuse")
	depth := fl.Int("depth", 8, "uring: entries per queue")
	pin := fl.Bool("pin", true, "uring: pin each queue's thread to its CPU")
	ringFlags := fl.String("ringflags", "", "uring: extra io_uring_setup flags: coop,taskrun,single,defer (comma separated)")
	fl.Parse(args)
	if *mnt == "" {
		return errors.New("serve: -mnt is required")
	}
	var rflags uint32
	for _, f := range strings.Split(*ringFlags, ",") {
		switch f {
		case "":
		case "coop":
			rflags |= setupCoopTaskrun
		case "taskrun":
			rflags |= setupTaskrunFlag
		case "single":
			rflags |= setupSingleIssuer
		case "defer":
			rflags |= setupDeferTaskrun | setupSingleIssuer
		default:
			return fmt.Errorf("unknown ring flag %q", f)
		}
	}
	s, err := newServer(*src, *ttl)
	if err != nil {
		return err
	}
	fd, err := mountFuse(*mnt)
	if err != nil {
		return err
	}
	defer unmount(*mnt)
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	emit := func(v any) {
		outMu.Lock()
		defer outMu.Unlock()
		b, _ := json.Marshal(v)
		out.Write(append(b, '\n'))
		out.Flush()
	}

	// Kernel requests (INIT first) need a reader before mount returns?
	// No: mount(2) only queues INIT; it is read here.
	uring := *transport == "uring"
	if *transport != "classic" && !uring {
		return fmt.Errorf("unknown transport %q", *transport)
	}
	if _, err := doInit(fd, uring); err != nil {
		return err
	}
	done := make(chan error, 1)
	readers := *workers
	if uring {
		// FORGET and INTERRUPT still come through /dev/fuse, and so does
		// everything until every queue is registered.
		readers = 1
	}
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := devLoop(s, fd); err != nil {
				select {
				case done <- err:
				default:
				}
			}
		}()
	}
	if uring {
		if err := startUring(s, fd, *depth, rflags, *pin); err != nil {
			return fmt.Errorf("FUSE over io_uring: %w", err)
		}
	}
	go func() { wg.Wait(); done <- nil }()
	emit(map[string]string{"ready": *transport})
	for {
		select {
		case sg := <-sig:
			if sg == syscall.SIGUSR1 {
				emit(s.snapshot())
				continue
			}
			unmount(*mnt)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
			emit(s.snapshot())
			return nil
		case err := <-done:
			emit(s.snapshot())
			return err
		}
	}
}

// counts is what the server tells the driver: requests by path and
// opcode name.
type counts struct {
	Dev  map[string]uint64 `json:"dev"`
	Ring map[string]uint64 `json:"ring"`
}

func (s *server) snapshot() counts {
	c := counts{Dev: map[string]uint64{}, Ring: map[string]uint64{}}
	for op := range uint32(opMax) {
		if v := s.counts[pathDev][op].Load(); v != 0 {
			c.Dev[opName(op)] = v
		}
		if v := s.counts[pathRing][op].Load(); v != 0 {
			c.Ring[opName(op)] = v
		}
	}
	return c
}

func possibleCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return 0, err
	}
	// "0-1" or "0" or "0-3,5": the kernel uses num_possible_cpus() and
	// task_cpu() as the queue index, so the highest id + 1 is what counts.
	s := strings.TrimSpace(string(b))
	hi := 0
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(part, "-")
		v, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", s, err)
		}
		hi = max(hi, v)
	}
	return hi + 1, nil
}

var stderr = os.Stderr
