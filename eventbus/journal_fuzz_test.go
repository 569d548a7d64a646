package eventbus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/event"
)

// The template journal: fuzzTemplateEvents create events, published
// through a real bus with small segments, then closed cleanly (which
// adds an unmount).
const (
	fuzzTemplateEvents = 40
	fuzzSegmentBytes   = 1024
)

type journalTemplate struct {
	files  map[string][]byte // name -> content
	segs   []string          // segment names, oldest first
	firsts []uint64          // first seq of each segment
}

func fuzzPath(i uint64) string { return fmt.Sprintf("dir/sub/file-%d.txt", i) }

func buildJournalTemplate(tb testing.TB) *journalTemplate {
	dir := tb.TempDir()
	b, err := OpenBus(Options{RingSize: 16, QueueSize: 16, Journal: JournalOptions{Dir: dir, SegmentBytes: fuzzSegmentBytes, Sync: SyncNever}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := uint64(1); i <= fuzzTemplateEvents; i++ {
		e := typicalCreate(fuzzPath(i))
		e.Time = time.Unix(1700000000, int64(i))
		b.Publish(e)
	}
	if err := b.Close(); err != nil {
		tb.Fatal(err)
	}
	tmpl := &journalTemplate{files: map[string][]byte{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		tmpl.files[e.Name()] = data
		if first, ok := strings.CutSuffix(e.Name(), ".seg"); ok {
			var n uint64
			fmt.Sscanf(first, "%d", &n)
			tmpl.segs = append(tmpl.segs, e.Name())
			tmpl.firsts = append(tmpl.firsts, n)
		}
	}
	sort.Strings(tmpl.segs)
	sort.Slice(tmpl.firsts, func(i, j int) bool { return tmpl.firsts[i] < tmpl.firsts[j] })
	if len(tmpl.segs) < 3 {
		tb.Fatalf("template journal has %d segments, want at least 3", len(tmpl.segs))
	}
	return tmpl
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// fuzzRecords turns fuzz bytes into records with valid checksums, so that
// the reader's seq and payload checks are reached: each record is
//
//	step u8 | len u8 | payload
//
// step 255 is followed by an absolute seq (u64, see fuzzMaxSeq); other
// steps add to the previous seq (0 repeats it). len 0 writes a valid
// create event. Leftover bytes are appended raw (a torn tail).
func fuzzRecords(prev uint64, data []byte) (out []byte) {
	for len(data) >= 2 {
		step, n := data[0], int(data[1])
		data = data[2:]
		if step == 255 {
			if len(data) < 8 {
				break
			}
			prev = binary.LittleEndian.Uint64(data) & fuzzMaxSeq
			data = data[8:]
		} else {
			prev += uint64(step)
		}
		var payload []byte
		if n == 0 {
			e := typicalCreate(fuzzPath(prev))
			e.Time = time.Unix(1700000000, 0)
			payload = e.AppendBinary(nil)
		} else {
			n = min(n, len(data))
			payload, data = data[:n], data[n:]
		}
		var h [recHeader]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
		binary.LittleEndian.PutUint64(h[8:], prev)
		binary.LittleEndian.PutUint32(h[4:], recordCRC(h[8:16], payload))
		out = append(append(out, h[:]...), payload...)
	}
	return append(out, data...)
}

// fuzzMaxSeq masks the seqs of crafted records: all 64 bits, so that
// seqs near 2^64 (which the journal must refuse as corrupt rather than
// wrap around) are tried too.
const fuzzMaxSeq = ^uint64(0)

// Fuzz modes: where the fuzz bytes go.
const (
	modeRawSegment       = iota // the only segment, no header
	modeHeaderSegment           // the only segment, after the magic
	modeRecordsSegment          // the only segment: magic + fuzzRecords
	modeAppendTail              // appended to the template's last segment
	modeAppendRecords           // fuzzRecords appended to the template's last segment
	modeNewRawSegment           // a new segment after the template's, no header
	modeNewHeaderSegment        // a new segment after the template's, with magic
	modeMiddleSegment           // replaces the template's middle segment (magic + bytes)
	modeMiddleRecords           // replaces the template's middle segment (magic + fuzzRecords)
	numFuzzModes
)

func FuzzJournalSegment(f *testing.F) {
	tmpl := buildJournalTemplate(f)
	lastSeg := tmpl.files[tmpl.segs[len(tmpl.segs)-1]]
	torn := []byte{200, 0, 0, 0, 1, 2, 3}
	for m := range uint8(numFuzzModes) {
		f.Add(m, []byte{})
		f.Add(m, torn)
		f.Add(m, []byte(segMagic))
		f.Add(m, lastSeg[len(segMagic):])     // valid records, replayed
		f.Add(m, []byte{1, 0, 1, 0, 0, 0, 2}) // two valid creates, then a torn one
	}
	f.Add(uint8(modeRecordsSegment), []byte{255, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(uint8(modeAppendRecords), []byte{1, 0, 1, 4, 1, 2, 3, 4, 2, 0})
	f.Add(uint8(modeMiddleRecords), []byte{1, 0, 255, 0, 60, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		checkJournalSegment(t, tmpl, mode%numFuzzModes, data)
	})
}

// fuzzExpect: the template records that must survive.
type fuzzExpect struct {
	from, to uint64 // template seqs that must be delivered (from > to: none)
	gapFrom  uint64 // template seqs in [gapFrom, gapTo] need not be
	gapTo    uint64
}

func checkJournalSegment(t *testing.T, tmpl *journalTemplate, mode uint8, data []byte) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTemplate := func() {
		for name, b := range tmpl.files {
			write(name, b)
		}
	}
	magic := func(b []byte) []byte { return append([]byte(segMagic), b...) }
	last := tmpl.segs[len(tmpl.segs)-1]
	next := uint64(fuzzTemplateEvents + 2) // after the creates and the unmount
	want := fuzzExpect{from: 1, to: fuzzTemplateEvents}
	switch mode {
	case modeRawSegment:
		write(segName(1), data)
		want = fuzzExpect{from: 1, to: 0}
	case modeHeaderSegment:
		write(segName(1), magic(data))
		want = fuzzExpect{from: 1, to: 0}
	case modeRecordsSegment:
		write(segName(1), magic(fuzzRecords(0, data)))
		want = fuzzExpect{from: 1, to: 0}
	case modeAppendTail:
		writeTemplate()
		write(last, append(bytes.Clone(tmpl.files[last]), data...))
	case modeAppendRecords:
		writeTemplate()
		write(last, append(bytes.Clone(tmpl.files[last]), fuzzRecords(next-1, data)...))
	case modeNewRawSegment:
		writeTemplate()
		write(segName(next), data)
	case modeNewHeaderSegment:
		writeTemplate()
		write(segName(next), magic(data))
	case modeMiddleSegment, modeMiddleRecords:
		writeTemplate()
		mid := len(tmpl.segs) / 2
		first, end := tmpl.firsts[mid], tmpl.firsts[mid+1]
		b := magic(data)
		if mode == modeMiddleRecords {
			b = magic(fuzzRecords(first-1, data))
		}
		want.gapFrom, want.gapTo = first, end-1
		// A checksum-valid record whose seq belongs to a later segment
		// (misplaced) is corrupt like any other: the damage stays
		// inside the middle segment's range.
		write(tmpl.segs[mid], b)
	}

	got1, ok := openAndDrain(t, dir)
	if !ok {
		return
	}
	checkTemplateDelivered(t, mode, got1, want)
	// The repair must be stable: a second start (after a clean stop)
	// delivers the same events.
	got2, ok := openAndDrain(t, dir)
	if !ok {
		t.Fatal("the journal opened once, then failed to open after a clean close")
	}
	if len(got1) != len(got2) {
		t.Fatalf("mode %d: %d events delivered after the repair, %d after a restart", mode, len(got1), len(got2))
	}
	for i := range got1 {
		a, b := *got1[i], *got2[i]
		if !a.Time.Equal(b.Time) {
			t.Fatalf("mode %d: event %d time %v then %v", mode, i, a.Time, b.Time)
		}
		a.Time = b.Time
		if a != b {
			t.Fatalf("mode %d: event %d changed across a restart:\n%+v\n%+v", mode, i, a, b)
		}
	}
}

// openAndDrain opens the bus on dir and reads the whole journal with a
// cursor at 0. It returns the delivered non-control events; ok is false
// when the journal refused to open. A watchdog turns a hang into a
// failure.
func openAndDrain(t *testing.T, dir string) (events []*Event, ok bool) {
	type result struct {
		events    []*Event
		ok        bool
		err, skip string
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.events, r.ok, r.err, r.skip = openAndDrainErr(dir)
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != "" {
			t.Fatal(r.err)
		}
		if r.skip != "" {
			t.Skip(r.skip)
		}
		return r.events, r.ok
	case <-time.After(20 * time.Second):
		t.Fatal("open or drain of the journal hangs")
		return nil, false
	}
}

func openAndDrainErr(dir string) (events []*Event, ok bool, failure, skip string) {
	b, err := OpenBus(Options{RingSize: 8, QueueSize: 8, Journal: JournalOptions{Dir: dir, SegmentBytes: fuzzSegmentBytes, Sync: SyncNever}})
	if err != nil {
		if !errors.Is(err, ErrJournal) {
			return nil, false, fmt.Sprintf("OpenBus error %v does not wrap ErrJournal", err), ""
		}
		return nil, false, "", ""
	}
	defer b.Close()
	target := b.Seq()
	if target > maxSeq+1<<20 {
		return nil, false, fmt.Sprintf("seq %d beyond what the journal accepts from disk", target), ""
	}
	all := event.AllTypes
	s, err := b.Subscribe("fuzz", Filter{Types: all}, &Cursor{Seq: 0})
	if err != nil {
		return nil, false, fmt.Sprintf("subscribe: %v", err), ""
	}
	defer s.Close()
	var out, buf []*Event
	var lastSeq uint64 // highest seq delivered or reported lost
	var pos uint64
	const maxTakes = 100000
	for i := 0; ; i++ {
		if i == maxTakes {
			return nil, false, fmt.Sprintf("drain does not terminate: %d Takes, position %d of %d", i, pos, target), ""
		}
		var done bool
		buf, pos, done = s.Take(buf[:0], 4096)
		for _, e := range buf {
			switch {
			case e.Type == Overflow:
				if e.FromSeq > e.ToSeq || e.FromSeq <= lastSeq && lastSeq != 0 || e.ToSeq > target {
					return nil, false, fmt.Sprintf("overflow %d..%d after seq %d (target %d)", e.FromSeq, e.ToSeq, lastSeq, target), ""
				}
				lastSeq = e.ToSeq
			case e.Type == Reset:
				return nil, false, fmt.Sprintf("reset for cursor 0: %+v", e), ""
			case e.Type == Unmount:
				return nil, false, fmt.Sprintf("an unmount from the journal was replayed: %+v", e), ""
			default:
				if e.Seq == 0 || e.Seq <= lastSeq || e.Seq > target {
					return nil, false, fmt.Sprintf("event seq %d after seq %d (target %d)", e.Seq, lastSeq, target), ""
				}
				lastSeq = e.Seq
				out = append(out, e)
			}
		}
		if pos > target {
			return nil, false, fmt.Sprintf("position %d beyond the last seq %d", pos, target), ""
		}
		if pos == target || done {
			break
		}
	}
	if err := b.Close(); err != nil {
		return nil, false, fmt.Sprintf("close: %v", err), ""
	}
	return out, true, "", ""
}

// checkTemplateDelivered checks that every template record outside the
// damaged stretch was delivered, intact and in order.
func checkTemplateDelivered(t *testing.T, mode uint8, got []*Event, want fuzzExpect) {
	bySeq := make(map[uint64]*Event, len(got))
	for _, e := range got {
		bySeq[e.Seq] = e
	}
	for seq := want.from; seq <= want.to; seq++ {
		if seq >= want.gapFrom && seq <= want.gapTo {
			continue
		}
		e := bySeq[seq]
		if e == nil {
			t.Fatalf("mode %d: valid record %d was not delivered (%d events delivered)", mode, seq, len(got))
		}
		if e.Type != Create || e.Path != fuzzPath(seq) || e.Time.UnixNano() != 1700000000e9+int64(seq) {
			t.Fatalf("mode %d: record %d delivered as %+v", mode, seq, e)
		}
	}
}
