package storage

import (
	"bufio"
	"errors"
	"io"
	"os"
	"slices"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"

	"github.com/skiff-project/skiff/internal/crc64iso"
)

// Layers are unpacked in parallel into the storage driver's staging
// directories, which need no parent and no store lock, and committed in
// order (a layer's parent must be in the store before it). tarDiffer is
// the storage library's Differ for a plain layer tar: it does what its
// PutLayer does (checks, tar-split, unpacking chrooted with the
// driver's whiteout format and ownership options), into the staging
// directory instead of the layer's.

// maxStaging is how many layers are fetched and unpacked at once.
const maxStaging = 6

// streamChunk is how much of a layer's stream tar-split reads at once
// (through the checker, from the inflater), and the unpacker from
// tar-split: each of tar-split's writes is a hand-over to the unpacking
// thread (a locked one), so large pieces make few of them.
const streamChunk = 1 << 20

// tarDiffer unpacks one uncompressed layer tar, checked on the way (see
// CheckedTarWith), into a staging directory.
type tarDiffer struct {
	src    io.Reader
	diffID string
	checks LayerChecks
}

// ApplyDiff is called by the driver with the staging directory and its
// unpacking options.
func (d *tarDiffer) ApplyDiff(dest string, opts *archive.TarOptions, dopts *drivers.DifferOptions) (drivers.DriverWithDifferOutput, error) {
	var out drivers.DriverWithDifferOutput
	// The tar-split record goes to a file the store copies when it
	// commits the layer; unlinked at once, it cannot be left behind.
	ts, err := os.CreateTemp(dopts.StagingDirectory, "tar-split-")
	if err != nil {
		return out, err
	}
	_ = os.Remove(ts.Name())
	if opts.IgnoreChownErrors {
		// One uid (no subordinate range): every file ends up the user's,
		// root inside. Owning them so from the start spares the storage
		// library's "Chown error detected" line per file, which it prints
		// to stderr itself (the user was warned once already).
		o := *opts
		o.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
		opts = &o
	}
	info, err := d.unpack(dest, opts, ts)
	if err != nil {
		ts.Close()
		return out, err
	}
	out.TarSplit = ts
	out.Size = info.size
	// The store was given the uncompressed tar before too: its
	// "compressed" digest is the diff ID.
	out.UncompressedDigest = digest.Digest(d.diffID)
	out.CompressedDigest = digest.Digest(d.diffID)
	out.UIDs, out.GIDs = sortedIDs(info.uids), sortedIDs(info.gids)
	if info.rootMode != nil {
		// The tar set the root directory's mode: the driver must not
		// give it the parent's.
		if fi, err := os.Stat(dest); err == nil {
			mode := fi.Mode()
			out.RootDirMode = &mode
		}
	}
	return out, nil
}

// unpack runs the checked tar through tar-split's recorder into the
// chrooted unpacker; a problem the checker found comes first.
func (d *tarDiffer) unpack(dest string, opts *archive.TarOptions, ts *os.File) (*tarInfo, error) {
	checked, wait := checkedTarInfo(d.src, d.diffID, d.checks)
	bw := bufio.NewWriterSize(ts, 64<<10)
	payload, done, err := asm.NewInputTarStreamWithDone(checked, tsstorage.NewJSONPacker(bw), &crcPutter{})
	if err != nil {
		wait()
		return nil, err
	}
	// tar-split hands its stream over through an io.Pipe, where every
	// read is a round trip to the writer: the unpacker's reads of 32 KiB
	// each woke both, and its thread is a locked one (untarInChroot).
	// One read takes what tar-split wrote at once (up to streamChunk).
	br := bufio.NewReaderSize(payload, streamChunk)
	err = untarInChroot(br, dest, opts) // reads the trailing padding too, which tar-split records
	payload.Close()
	if derr := <-done; err == nil {
		err = derr
	}
	info, cerr := wait()
	switch {
	case cerr != nil && !errors.Is(cerr, errReaderClosed):
		return nil, cerr
	case err != nil:
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return info, nil
}

func (d *tarDiffer) Close() error { return nil }

// crcPutter is tar-split's discarding FilePutter (each file's CRC-64 goes
// into the record, for the store to check when it rebuilds the tar) with
// a faster CRC and a larger buffer: every read of it is written to the
// unpacking thread at once, 32 times fewer hand-overs than with 32 KiB.
type crcPutter struct{ buf []byte }

func (p *crcPutter) Put(_ string, r io.Reader) (int64, []byte, error) {
	if p.buf == nil {
		p.buf = make([]byte, streamChunk)
	}
	c := crc64iso.New() // what crc64.New(tsstorage.CRCTable) gives, faster
	n, err := io.CopyBuffer(c, r, p.buf)
	return n, c.Sum(nil), err
}

func sortedIDs(m map[uint32]struct{}) []uint32 {
	out := make([]uint32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// abortable stops a layer's stream when stop is closed: another layer
// of the same image failed.
type abortable struct {
	r    io.Reader
	stop <-chan struct{}
}

var errAborted = errors.New("aborted: another layer failed")

func (a abortable) Read(p []byte) (int, error) {
	select {
	case <-a.stop:
		return 0, errAborted
	default:
	}
	return a.r.Read(p)
}

// stageLayer unpacks l into a staging directory; the caller commits or
// cleans up the returned output. It retries where another skiff process
// removed the staging directory under it (see isStagingRace).
func (s *Store) stageLayer(l LayerSource, stop <-chan struct{}) (*drivers.DriverWithDifferOutput, error) {
	out, err := s.stageLayerOnce(l, stop)
	for try := 1; try < 4 && isStagingRace(err); try++ {
		sleepTry(try)
		out, err = s.stageLayerOnce(l, stop)
	}
	return out, err
}

func (s *Store) stageLayerOnce(l LayerSource, stop <-chan struct{}) (*drivers.DriverWithDifferOutput, error) {
	rc, err := l.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := &tarDiffer{src: abortable{r: rc, stop: stop}, diffID: l.DiffID, checks: l.Checks}
	out, err := s.s.PrepareStagedLayer(&drivers.ApplyDiffWithDifferOpts{}, d)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = s.s.CleanupStagedLayer(out)
		}
		return nil, err
	}
	return out, nil
}
