package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
)

// The index (manifest) of a store is append-only and hash-chained: entry
// N is the object index/NNNNNNNN.json (eight digits), written once and
// never replaced, holding the name, size and SHA-256 of one document and
// the SHA-256 of entry N-1's bytes. One object per entry, rather than one
// growing file, is what lets the index live under an R2 bucket lock, where
// an object cannot be changed once written; in a folder it is what lets
// two runs append without a lock (the loser of a race for entry N finds it
// taken and tries N+1).
//
// With the index, verification no longer trusts what the store holds:
// a document deleted together with its .sha256 is still named by its
// entry, and a document added beside the index has no entry. Removing the
// newest entries along with their documents cannot be seen from the
// folder alone; Verify reports the head (seq and digest) so a reader can
// compare it with one noted earlier, and a bucket lock makes the entries
// undeletable.

// IndexDir is the folder of the index's entries inside a store.
const IndexDir = "index"

// IndexEntry is one entry of a store's index.
type IndexEntry struct {
	Seq    int    `json:"seq"`
	Name   string `json:"name"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	// Prev is the hex SHA-256 of entry Seq-1's bytes, "" for entry 1.
	Prev string `json:"prev"`
}

// indexName is the object name of entry seq.
func indexName(seq int) string { return fmt.Sprintf("%s/%08d.json", IndexDir, seq) }

// parseIndexName reads seq from an index object name.
func parseIndexName(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, IndexDir+"/")
	if !ok || len(rest) != len("00000000.json") || !strings.HasSuffix(rest, ".json") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rest, ".json"))
	if err != nil || n < 1 || strings.ContainsAny(rest[:8], "+-") {
		return 0, false
	}
	return n, true
}

// encodeEntry is an entry's bytes: canonical JSON and a newline.
func encodeEntry(e IndexEntry) ([]byte, error) {
	b, err := Canonical(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeEntry reads an entry strictly: it must be exactly the bytes
// encodeEntry writes for it, so any edit shows.
func decodeEntry(data []byte) (IndexEntry, error) {
	var e IndexEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not an index entry: %v", err)
	}
	again, err := encodeEntry(e)
	if err != nil || !bytes.Equal(again, data) {
		return e, errors.New("not in the form guard writes (edited)")
	}
	if e.Seq < 1 || checkName(e.Name) != nil || len(e.SHA256) != 64 || !isHex(e.SHA256) || (e.Prev != "" && (len(e.Prev) != 64 || !isHex(e.Prev))) {
		return e, errors.New("an entry with invalid fields")
	}
	return e, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ErrDiffers is returned (wrapped) by Publish when the store already holds
// a different document, digest or index entry under the name.
var ErrDiffers = errors.New("the evidence store holds a different document under this name")

// Published says what Publish did.
type Published struct {
	Name       string
	DigestName string
	SHA256     string
	// Seq is the document's index entry.
	Seq int
	// Already is set when the store held this exact document and its
	// entry before: nothing was written.
	Already bool
	// Wrote lists the objects written, in order.
	Wrote []string
}

// maxAppendRaces bounds the retries when other runs take the next index
// entry first.
const maxAppendRaces = 16

// Publish stores a document, its digest (name.sha256) and its index entry,
// in that order, never replacing anything. Publishing the same bytes
// again is a no-op that says so (Already); it also completes a run that
// was interrupted after the document or its digest was written. A
// different document, digest or entry already under the name is
// ErrDiffers: evidence is never rewritten, and a period collected again
// with another result means the history it covers changed.
func Publish(ctx context.Context, st Store, name string, data []byte) (*Published, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if _, ok := parseIndexName(name); ok || strings.HasPrefix(name, IndexDir+"/") {
		return nil, fmt.Errorf("evidence: %q is inside the index folder", name)
	}
	sum := sha256Hex(data)
	p := &Published{Name: name, DigestName: name + DigestSuffix, SHA256: sum}
	digest := []byte(DigestLine(sum, path.Base(name)))

	names, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	last := 0
	for _, n := range names {
		have[n] = true
		if seq, ok := parseIndexName(n); ok && seq > last {
			last = seq
		}
	}
	if have[name] {
		// Re-run, or a run that stopped before its entry: find the entry,
		// newest first (a re-run is usually for a recent period).
		for seq := last; seq >= 1; seq-- {
			if !have[indexName(seq)] {
				continue
			}
			raw, err := st.Get(ctx, indexName(seq))
			if err != nil {
				return nil, err
			}
			e, err := decodeEntry(raw)
			if err != nil || e.Name != name {
				continue
			}
			if e.SHA256 != sum {
				return nil, fmt.Errorf("%s: %s (index entry %d records sha256 %s, this run produced %s): %w", st.Location(), name, seq, e.SHA256, sum, ErrDiffers)
			}
			if err := createOrMatch(ctx, st, p.DigestName, digest, p); err != nil {
				return nil, err
			}
			p.Seq, p.Already = seq, len(p.Wrote) == 0
			return p, nil
		}
	}
	if err := createOrMatch(ctx, st, name, data, p); err != nil {
		return nil, err
	}
	if err := createOrMatch(ctx, st, p.DigestName, digest, p); err != nil {
		return nil, err
	}
	for range maxAppendRaces {
		prev := ""
		if last > 0 {
			raw, err := st.Get(ctx, indexName(last))
			if err != nil {
				return nil, fmt.Errorf("evidence: reading the index's last entry: %w", err)
			}
			if _, err := decodeEntry(raw); err != nil {
				return nil, fmt.Errorf("%s: %s is %v: nothing appended after it; run 'guard evidence verify %s'", st.Location(), indexName(last), err, st.Location())
			}
			prev = sha256Hex(raw)
		}
		e := IndexEntry{Seq: last + 1, Name: name, Size: len(data), SHA256: sum, Prev: prev}
		raw, err := encodeEntry(e)
		if err != nil {
			return nil, err
		}
		err = st.Create(ctx, indexName(e.Seq), raw)
		if err == nil {
			p.Seq = e.Seq
			p.Wrote = append(p.Wrote, indexName(e.Seq))
			return p, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, err
		}
		last = e.Seq // another run appended first: chain after its entry
	}
	return nil, fmt.Errorf("%s: gave up appending to the index after %d concurrent appends", st.Location(), maxAppendRaces)
}

// createOrMatch writes data under name unless the store holds exactly
// data there already (an earlier run's); anything else there is
// ErrDiffers.
func createOrMatch(ctx context.Context, st Store, name string, data []byte, p *Published) error {
	err := st.Create(ctx, name, data)
	if err == nil {
		p.Wrote = append(p.Wrote, name)
		return nil
	}
	if !errors.Is(err, ErrExists) {
		return err
	}
	got, gerr := st.Get(ctx, name)
	if gerr != nil {
		return gerr
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("%s: %s (sha256 %s) is not what this run produced (sha256 %s): %w", st.Location(), name, sha256Hex(got), sha256Hex(data), ErrDiffers)
	}
	return nil
}

// Problem is one defect Verify found, about one object of the store.
type Problem struct {
	File    string
	Message string
}

func (p Problem) String() string { return p.File + ": " + p.Message }

// VerifyResult lists what Verify checked and what it found.
type VerifyResult struct {
	// Verified are the documents whose bytes and digest match their entry,
	// in index order.
	Verified []string
	Problems []Problem
	// Entries is the number of index entries read; HeadSeq and HeadSHA256
	// name the last one (its bytes' SHA-256), "" when there is none.
	Entries    int
	HeadSeq    int
	HeadSHA256 string
}

// Verify checks a store against its index: every entry present, intact
// and chained to the one before; every document named by an entry present
// with the recorded bytes and a matching digest; nothing else in the
// store. Problems are in index order, then by name.
//
// A document is reported deleted (with or without its digest), edited
// (its bytes differ from its entry and its digest), or replaced (its
// digest rewritten to match new bytes); an object that no entry accounts
// for is reported as added without an index entry.
func Verify(ctx context.Context, st Store) (*VerifyResult, error) {
	names, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	st, err = prefetch(ctx, st, names)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	have := map[string]bool{}
	var seqs []int
	accounted := map[string]bool{}
	for _, n := range names {
		have[n] = true
		if seq, ok := parseIndexName(n); ok {
			seqs = append(seqs, seq)
			accounted[n] = true
		}
	}
	last := 0
	for _, s := range seqs {
		last = max(last, s)
	}
	prevRaw := []byte(nil)
	prevSeq := 0
	byName := map[string]int{}
	for seq := 1; seq <= last; seq++ {
		iname := indexName(seq)
		if !have[iname] {
			res.Problems = append(res.Problems, Problem{File: iname, Message: fmt.Sprintf("index entry %d is missing: deleted from the index (entries %d..%d remain)", seq, 1, last)})
			prevRaw, prevSeq = nil, 0
			continue
		}
		raw, err := st.Get(ctx, iname)
		if errors.Is(err, fs.ErrNotExist) {
			res.Problems = append(res.Problems, Problem{File: iname, Message: "listed but cannot be read: deleted while verifying"})
			prevRaw, prevSeq = nil, 0
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Entries++
		res.HeadSeq, res.HeadSHA256 = seq, sha256Hex(raw)
		e, err := decodeEntry(raw)
		if err != nil {
			res.Problems = append(res.Problems, Problem{File: iname, Message: err.Error()})
			prevRaw, prevSeq = raw, seq
			continue
		}
		var chain error
		switch {
		case e.Seq != seq:
			chain = fmt.Errorf("entry %d is stored as entry %d (replaced)", e.Seq, seq)
		case seq == 1 && e.Prev != "":
			chain = errors.New("entry 1 names a predecessor: the index's beginning was replaced")
		case prevSeq >= 1 && prevSeq == seq-1 && e.Prev != sha256Hex(prevRaw):
			chain = fmt.Errorf("does not chain to entry %d: entry %d or this one was edited or replaced", seq-1, seq-1)
		}
		if first, dup := byName[e.Name]; dup && chain == nil {
			chain = fmt.Errorf("names %s again (entry %d already does)", e.Name, first)
		}
		prevRaw, prevSeq = raw, seq
		if chain != nil {
			res.Problems = append(res.Problems, Problem{File: iname, Message: chain.Error()})
		}
		if _, dup := byName[e.Name]; dup {
			continue
		}
		byName[e.Name] = seq
		accounted[e.Name] = true
		accounted[e.Name+DigestSuffix] = true
		probs := checkDocument(ctx, st, e, &res.Verified)
		if chain != nil && len(probs) == 0 {
			// The document matches an entry that is itself in doubt.
			res.Verified = res.Verified[:len(res.Verified)-1]
		}
		res.Problems = append(res.Problems, probs...)
	}
	for _, n := range names {
		if accounted[n] {
			continue
		}
		msg := "added without an index entry"
		if strings.HasPrefix(n, IndexDir+"/") {
			msg = "added to the index folder: not an index entry"
		}
		res.Problems = append(res.Problems, Problem{File: n, Message: msg})
	}
	return res, nil
}

// verifyFetches bounds the objects Verify downloads at once: a bucket's
// objects are one API call each, and a year of daily evidence is over two
// thousand of them.
var verifyFetches = 8

// fetchedStore answers Get from what prefetch downloaded; a name it does
// not hold is absent (it was not listed).
type fetchedStore struct {
	Store
	objects map[string][]byte
}

func (f fetchedStore) Get(ctx context.Context, name string) ([]byte, error) {
	if data, ok := f.objects[name]; ok {
		return data, nil
	}
	return nil, fmt.Errorf("%s%s: %w", f.Location(), name, fs.ErrNotExist)
}

// prefetch downloads every listed object, verifyFetches at a time. An
// object listed but gone by the time it is read is left out (then reported
// as missing); any other failure fails the verification.
func prefetch(ctx context.Context, st Store, names []string) (Store, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type got struct {
		name string
		data []byte
		err  error
	}
	work := make(chan string)
	out := make(chan got)
	var wg sync.WaitGroup
	for range min(verifyFetches, max(1, len(names))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				data, err := st.Get(ctx, n)
				select {
				case out <- got{n, data, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, n := range names {
			select {
			case work <- n:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()
	objects := make(map[string][]byte, len(names))
	for g := range out {
		switch {
		case errors.Is(g.err, fs.ErrNotExist):
		case g.err != nil:
			return nil, g.err
		default:
			objects[g.name] = g.data
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fetchedStore{Store: st, objects: objects}, nil
}

// checkDocument checks one entry's document and digest.
func checkDocument(ctx context.Context, st Store, e IndexEntry, verified *[]string) []Problem {
	recorded := fmt.Sprintf("index entry %d records sha256 %s, %d bytes", e.Seq, e.SHA256, e.Size)
	dname := e.Name + DigestSuffix
	digest, derr := st.Get(ctx, dname)
	digestOK := derr == nil && digestNames(digest, path.Base(e.Name), e.SHA256)
	doc, err := st.Get(ctx, e.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if errors.Is(derr, fs.ErrNotExist) {
			return []Problem{{File: e.Name, Message: "deleted together with its digest: " + recorded}}
		}
		return []Problem{{File: e.Name, Message: "deleted: " + recorded}}
	case err != nil:
		return []Problem{{File: e.Name, Message: err.Error()}}
	}
	got := sha256Hex(doc)
	if got == e.SHA256 && len(doc) != e.Size {
		return []Problem{{File: indexName(e.Seq), Message: fmt.Sprintf("edited: it records %d bytes for %s, whose bytes match the recorded sha256 and are %d", e.Size, e.Name, len(doc))}}
	}
	if got != e.SHA256 {
		if derr == nil && digestNames(digest, path.Base(e.Name), got) {
			return []Problem{{File: e.Name, Message: fmt.Sprintf("replaced: the document and its digest were both rewritten (sha256 now %s; %s)", got, recorded)}}
		}
		return []Problem{{File: e.Name, Message: fmt.Sprintf("edited after it was published: its sha256 is %s, %s", got, recorded)}}
	}
	switch {
	case errors.Is(derr, fs.ErrNotExist):
		return []Problem{{File: dname, Message: fmt.Sprintf("deleted: the digest of %s (index entry %d)", e.Name, e.Seq)}}
	case derr != nil:
		return []Problem{{File: dname, Message: derr.Error()}}
	case !digestOK:
		return []Problem{{File: dname, Message: fmt.Sprintf("edited: it does not state the sha256 of %s that index entry %d records (%s)", path.Base(e.Name), e.Seq, e.SHA256)}}
	}
	*verified = append(*verified, e.Name)
	return nil
}

// digestNames reports whether a digest file is exactly one sha256sum line
// giving sum for base.
func digestNames(data []byte, base, sum string) bool {
	es, err := ParseDigests(data)
	return err == nil && len(es) == 1 && es[0].Name == base && es[0].SHA256 == sum && string(data) == DigestLine(sum, base)
}
