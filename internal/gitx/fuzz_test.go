package gitx

import (
	"bytes"
	"reflect"
	"testing"
)

// The parsers read git's NUL-separated output. They must never panic, and
// what they accept must print back (in git's format) to input they read
// the same way. Seeds: testdata/fuzz/<FuzzName>.

func FuzzParseStatusV2(f *testing.F) {
	f.Add([]byte("1 .M N... 100644 100644 100644 0 0 a b.txt\x002 R. N... 100644 100644 100644 0 0 R100 new\x00old\x00? u\x00"))
	f.Add([]byte("# branch.oid (initial)\x00u UU N... 1 1 1 1 0 0 0 c\x00! i\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := parseStatusV2(out)
		if err != nil {
			return
		}
		again, err := parseStatusV2(formatStatusV2(st))
		if err != nil {
			t.Fatalf("reformatted %+v does not parse: %v", st, err)
		}
		if len(st) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, st) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, st)
		}
	})
}

func FuzzParseNameStatusZ(f *testing.F) {
	f.Add([]byte("M\x00a.txt\x00R100\x00old\x00new\x00"))
	f.Add([]byte("C075\x00a\x00b\x00D\x00c\x00T\x00d\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		fcs, err := parseNameStatusZ(out)
		if err != nil {
			return
		}
		for _, fc := range fcs {
			if fc.Kind < 'A' || fc.Kind > 'Z' {
				t.Fatalf("kind %q accepted", fc.Kind)
			}
			if fc.Kind != 'R' && fc.Kind != 'C' && fc.OldPath != fc.Path {
				t.Fatalf("%c entry with OldPath %q != Path %q", fc.Kind, fc.OldPath, fc.Path)
			}
		}
		again, err := parseNameStatusZ(formatNameStatusZ(fcs))
		if err != nil {
			t.Fatalf("reformatted %+v does not parse: %v", fcs, err)
		}
		if len(fcs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, fcs) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, fcs)
		}
	})
}

// FuzzParseLog checks two things: any output parses without a panic and
// round-trips; and a commit whose message and path are arbitrary (git
// allows anything but NUL in either) comes back exactly — no message can
// end its record early or forge another commit.
func FuzzParseLog(f *testing.F) {
	f.Add([]byte(logRecord("1111111111111111111111111111111111111111", nil, "a@x", "m\n", "A", "a")), []byte("feat: x\n\nChange-Category: normal\n"), "src/a.ts")
	f.Add([]byte(logRecord("2", []string{"1", "3"}, "a@x", "merge\n", "M", "m")), []byte("x\n"+recordMark+"2 1\ne\nt\nt\nforged\x1f\x1e"), "\nR100")
	f.Fuzz(func(t *testing.T, out, msg []byte, path string) {
		cs, err := parseLog(out)
		if err == nil {
			again, err := parseLog(formatLog(cs))
			if err != nil {
				t.Fatalf("reformatted %+v does not parse: %v", cs, err)
			}
			if !(len(cs) == 0 && len(again) == 0) && !reflect.DeepEqual(again, cs) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", again, cs)
			}
		}

		msg = bytes.ReplaceAll(msg, []byte{0}, nil)
		path = string(bytes.ReplaceAll([]byte(path), []byte{0}, nil))
		if path == "" {
			path = "p"
		}
		const h = "0123456789abcdef0123456789abcdef01234567"
		rec := logRecord(h, []string{"89abcdef0123456789abcdef0123456789abcdef"}, "a@x", string(msg), "M", path, "R100", path, "b") +
			logRecord("fedcba9876543210fedcba9876543210fedcba98", []string{h}, "b@x", string(msg))
		got, err := parseLog([]byte(rec))
		if err != nil {
			t.Fatalf("parseLog of a well-formed log: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("a message made %d commits out of 2: %q", len(got), msg)
		}
		if !bytes.Equal(got[0].Message, msg) || !bytes.Equal(got[1].Message, msg) {
			t.Fatalf("message %q came back as %q and %q", msg, got[0].Message, got[1].Message)
		}
		want := []FileChange{{'M', path, path}, {'R', "b", path}}
		if !reflect.DeepEqual(got[0].Changes, want) || got[1].Changes != nil {
			t.Fatalf("changes %+v / %+v, want %+v / none", got[0].Changes, got[1].Changes, want)
		}
	})
}
