package eventbus

// Retention: the oldest segments go whole, by size and by age.

import (
	"os"
	"time"
)

// applyRetention deletes the oldest segments beyond MaxBytes or MaxAge.
func (j *journal) applyRetention() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.applyRetentionLocked()
}

func (j *journal) applyRetentionLocked() {
	for len(j.segs) > 1 {
		s := j.segs[0]
		fi, err := os.Stat(s.path)
		size := int64(0)
		if err == nil {
			size = fi.Size()
		}
		tooBig := j.total > j.opts.MaxBytes
		tooOld := j.opts.MaxAge > 0 && err == nil && time.Since(fi.ModTime()) > j.opts.MaxAge
		if !tooBig && !tooOld && err == nil {
			return
		}
		os.Remove(s.path)
		j.total -= size
		j.segs = j.segs[1:]
	}
}
