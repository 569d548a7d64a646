package eventbus

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// recordSpan is where one record of the pristine template lies.
type recordSpan struct {
	seg      int
	off, end int64
	seq      uint64
}

// recoverTemplate is a journal of several segments written by a real
// bus, and the span of every record in it.
type recoverTemplate struct {
	names []string
	data  [][]byte
	recs  []recordSpan
	other map[string][]byte // epoch, reserved
}

func buildRecoverTemplate(tb testing.TB) *recoverTemplate {
	dir := tb.TempDir()
	b, err := OpenBus(Options{RingSize: 8, Journal: JournalOptions{Dir: dir, SegmentBytes: 2048, Sync: SyncNever}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := uint64(1); i <= 120; i++ {
		b.Publish(typicalCreate(fuzzPath(i)))
	}
	b.Close()
	t := &recoverTemplate{other: map[string][]byte{}}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".seg") {
			t.names = append(t.names, e.Name())
		} else if e.Name() != lockFile {
			t.other[e.Name()] = data
		}
	}
	sort.Strings(t.names)
	for i, n := range t.names {
		data, _ := os.ReadFile(filepath.Join(dir, n))
		t.data = append(t.data, data)
		for off := int64(len(segMagic)); off+recHeader <= int64(len(data)); {
			l := int64(binary.LittleEndian.Uint32(data[off:]))
			seq := binary.LittleEndian.Uint64(data[off+8:])
			t.recs = append(t.recs, recordSpan{i, off, off + recHeader + l, seq})
			off += recHeader + l
		}
	}
	return t
}

// FuzzJournalRecovery damages the segments of a journal — flipped bytes,
// overwritten stretches, a truncated tail — and asserts that after
// recovery a reader from the start receives every record that the damage
// left intact: recovery may lose only what was actually damaged.
func FuzzJournalRecovery(f *testing.F) {
	tmpl := buildRecoverTemplate(f)
	f.Add([]byte{0, 0, 0, 40})                            // a flipped byte in the first record
	f.Add([]byte{0, 1, 0, 3})                             // a damaged segment header
	f.Add([]byte{1, 255, 2, 0})                           // a truncated last segment
	f.Add([]byte{2, 255, 1, 0, 2, 1, 0, 200, 0, 2, 0, 9}) // several
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			return
		}
		data := make([][]byte, len(tmpl.data))
		for i := range tmpl.data {
			data[i] = append([]byte(nil), tmpl.data[i]...)
		}
		damaged := make([][]bool, len(data))
		for i := range data {
			damaged[i] = make([]bool, len(data[i]))
		}
		cut := make([]int64, len(data)) // truncated length, per segment
		for i := range data {
			cut[i] = int64(len(data[i]))
		}
		for ; len(ops) >= 4; ops = ops[4:] {
			seg := int(ops[1]) % len(data)
			if ops[1] == 255 {
				seg = len(data) - 1
			}
			off := int(ops[2])<<8 | int(ops[3])
			if off >= len(data[seg]) {
				continue
			}
			switch ops[0] % 3 {
			case 0: // flip a byte
				data[seg][off] ^= 0xa5
				damaged[seg][off] = true
			case 1: // truncate the last segment (a torn tail)
				if seg == len(data)-1 {
					cut[seg] = min(cut[seg], int64(off))
				}
			case 2: // overwrite a stretch with a repeating pattern
				for k := off; k < min(off+int(ops[3]%64)+1, len(data[seg])); k++ {
					data[seg][k] = ops[3] ^ byte(k)
					damaged[seg][k] = true
				}
			}
		}
		dir := t.TempDir()
		for i, n := range tmpl.names {
			os.WriteFile(filepath.Join(dir, n), data[i][:cut[i]], 0o600)
		}
		for n, d := range tmpl.other {
			os.WriteFile(filepath.Join(dir, n), d, 0o600)
		}

		b, err := OpenBus(Options{RingSize: 8, Journal: JournalOptions{Dir: dir, SegmentBytes: 2048, Sync: SyncNever}})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s, err := b.Subscribe("fuzz", Filter{}, &Cursor{Seq: 0})
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]bool{}
		for {
			evs, pos, done := s.Take(nil, 1<<20)
			for _, e := range evs {
				if e.Seq != 0 {
					got[e.Seq] = true
				}
			}
			if done || pos >= b.Seq() {
				break
			}
		}
		for _, r := range tmpl.recs {
			if r.end > cut[r.seg] {
				continue // cut off
			}
			intact := true
			for k := r.off; k < r.end; k++ {
				if damaged[r.seg][k] {
					intact = false
					break
				}
			}
			if intact && !got[r.seq] && r.seq != tmpl.recs[len(tmpl.recs)-1].seq { // the last is the unmount, never replayed
				t.Fatalf("intact record seq %d (segment %s, bytes %d..%d) was lost", r.seq, tmpl.names[r.seg], r.off, r.end)
			}
		}
	})
}
