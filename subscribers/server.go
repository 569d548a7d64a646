package subscribers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Info describes the mount for hello and status.
type Info struct {
	// MountPoint and Source are absolute paths.
	MountPoint, Source string
	// Backend names the kernel bridge in use (fanotify, inotify, ...).
	Backend string
	// Status, if set, turns the server's status into the object of a
	// status reply, so that the daemon can add its filesystem's and
	// watcher's figures beside the server's. It is called from connection
	// goroutines, so it must be safe for concurrent use and quick.
	Status func(*Status) any
	// Flush, if set, is called by every sync before it takes its target:
	// it returns once the changes made underneath the mount before the
	// call have been published, so that sync covers them too.
	Flush func()
}

// Server accepts subscriber connections on a Unix socket and streams bus
// events to them. Create one with Listen.
type Server struct {
	bus     *eventbus.Bus
	info    Info
	opts    Options
	policy  policy
	ln      *net.UnixListener
	absPath string
	sockFI  os.FileInfo // the socket file we made; removed only if still it

	mu      sync.Mutex
	conns   map[*conn]struct{}
	perUID  map[uint32]int // admitted connections by peer uid
	nextID  uint64
	closing bool

	drain     chan struct{} // closed when Close begins: deliver what you have, then hang up
	kill      chan struct{} // closed when the drain time is up
	wg        sync.WaitGroup
	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	testConnDone func(id uint64) // guarded by mu; called as a connection ends
}

// Listen creates the socket at opts.SocketPath and returns a server ready
// to Serve. A stale socket (a socket file nobody answers on) is replaced;
// a live one is an error wrapping ErrInUse.
func Listen(bus *eventbus.Bus, info Info, opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	path := opts.SocketPath
	if err := checkPathLen(path); err != nil {
		return nil, err
	}
	// Keep an absolute path for Close: the working directory may change.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	gid, err := resolveGroup(opts.Group)
	if err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := createSocket(path, opts.Mode, gid)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	return &Server{
		bus: bus, info: info, opts: opts, policy: newPolicy(opts.Mode, gid),
		ln: ln, absPath: abs, sockFI: fi,
		conns: make(map[*conn]struct{}), perUID: make(map[uint32]int),
		drain: make(chan struct{}), kill: make(chan struct{}),
	}, nil
}

// Path returns the socket path as given in Options.
func (s *Server) Path() string { return s.opts.SocketPath }

// Serve accepts connections until Close. It returns nil after Close, or
// the error that made accepting impossible.
func (s *Server) Serve() error {
	var delay time.Duration
	for {
		nc, err := s.ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.drain:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !transientAcceptError(err) {
				return fmt.Errorf("subscribers: accept: %w", err)
			}
			// Out of descriptors or memory: wait for some to be freed
			// rather than spin or give up on every subscriber.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.drain:
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.nextID++
		c := newConn(s, s.nextID, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.run()
	}
}

func transientAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// admit counts a connection whose peer passed the access check against
// the caps, or says why it is refused.
func (s *Server) admit(c *conn, p *peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) > s.opts.MaxConns {
		return fmt.Errorf("too many connections: the daemon serves at most %d at once", s.opts.MaxConns)
	}
	if p.known && !s.policy.privileged(*p) {
		if s.perUID[p.uid] >= s.opts.MaxConnsPerUser {
			return fmt.Errorf("too many connections: uid %d already has %d, the most one user may have", p.uid, s.opts.MaxConnsPerUser)
		}
		s.perUID[p.uid]++
		c.counted = true
	}
	return nil
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if p := c.peer.Load(); p != nil && c.counted {
		if s.perUID[p.uid]--; s.perUID[p.uid] <= 0 {
			delete(s.perUID, p.uid)
		}
	}
	hook := s.testConnDone
	s.mu.Unlock()
	if hook != nil {
		hook(c.id)
	}
	s.wg.Done()
}

// Close stops accepting, removes the socket file, and lets every
// connection deliver what it still has, waiting at most
// Options.DrainTimeout before cutting the rest off. Close the bus first:
// subscribers then receive everything up to and including the unmount
// event before their connection ends.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		close(s.drain)
		s.mu.Unlock()
		s.closeErr = s.StopAccepting()

		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		t := time.NewTimer(s.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			close(s.kill)
			s.mu.Lock()
			for c := range s.conns {
				c.nc.Close() // unblocks a write stuck on a client that does not read
			}
			s.mu.Unlock()
			<-done
		}
	})
	return s.closeErr
}

// StopAccepting closes the listener and removes the socket file, leaving
// open connections alone. A daemon going down calls it before announcing
// unmount, so that a client seeing the stream end finds the socket gone.
func (s *Server) StopAccepting() error {
	var err error
	s.stopOnce.Do(func() {
		if e := s.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = fmt.Errorf("subscribers: %w", e)
		}
		s.removeSocket()
	})
	return err
}

// removeSocket deletes the socket file unless it has been replaced by
// another daemon's in the meantime.
func (s *Server) removeSocket() {
	fi, err := os.Lstat(s.absPath)
	if err == nil && os.SameFile(fi, s.sockFI) {
		os.Remove(s.absPath)
	}
}
