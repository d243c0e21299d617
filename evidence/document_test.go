package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/report"
)

func testDoc() *Document {
	d := newDocument(CollectorDeployments, NewPeriod(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), 7*24*time.Hour), "guard test")
	d.Items = []Deployment{}
	d.Findings = append(d.Findings,
		report.Finding{Rule: "b-rule", Severity: report.SeverityError, Message: "<b> & \"quoted\""},
		report.Finding{Rule: "a-rule", Severity: report.SeverityWarning, Message: "first"})
	return d
}

func TestEncode(t *testing.T) {
	data, err := Encode(testDoc())
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		`"as_of": "2026-11-28T00:00:00Z"`, // the period's end, UTC
		`"from": "2026-11-21T00:00:00Z"`,
		`"<b> & \"quoted\""`, // no HTML escaping
		`"items": []`,
		`"controls": [` + "\n" + `    "A.5.8",`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("document lacks %s:\n%s", want, s)
		}
	}
	if strings.Index(s, "a-rule") < strings.Index(s, "b-rule") {
		t.Error("findings were reordered")
	}
	if !strings.HasSuffix(s, "}\n") {
		t.Error("no final newline")
	}
	assertSortedKeys(t, data)
}

func TestFileName(t *testing.T) {
	d := testDoc()
	if got, want := FileName(d, "api/v2"), "deployments_api-v2_2026-11-21T00-00-00Z_2026-11-28T00-00-00Z.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	d.Period.From = d.Period.To
	d.Collector = CollectorBranchProtection
	if got, want := FileName(d, ""), "branch-protection_2026-11-28T00-00-00Z.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
}

func TestPeriodContains(t *testing.T) {
	p := NewPeriod(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), time.Hour)
	if p.Contains(p.From) || !p.Contains(p.To) || !p.Contains(p.From.Add(time.Nanosecond)) || p.Contains(p.To.Add(time.Nanosecond)) {
		t.Error("period is not (from, to]")
	}
}

func TestParseDigests(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := sum + "  a.json\n" + strings.ToUpper(sum) + " *sub/b.json\r\n\n"
	es, err := ParseDigests([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "a.json" || es[1].Name != "sub/b.json" || es[1].SHA256 != sum || es[1].Line != 2 {
		t.Errorf("%+v", es)
	}
	for _, bad := range []string{
		sum + " a.json",       // one space
		sum[:63] + "  a.json", // short digest
		strings.Repeat("zz", 32) + "  a.json",
		sum + "  ../a.json",
		sum + "  /etc/passwd",
		sum + "  a/../../b",
		"\\" + sum + "  a\\nb",
		sum + "  ",
	} {
		if _, err := ParseDigests([]byte(bad)); err == nil {
			t.Errorf("ParseDigests(%q) accepted", bad)
		}
	}
}

func FuzzParseDigests(f *testing.F) {
	sum := strings.Repeat("0f", 32)
	for _, s := range []string{sum + "  a.json\n", sum + " *b.json\n" + sum + "  c/d.json", "", "\\x", sum + "  ../x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseDigests(data)
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.SHA256) != 64 || e.Name == "" || strings.HasPrefix(e.Name, "/") || e.Name == ".." || strings.HasPrefix(e.Name, "../") {
				t.Fatalf("accepted entry %+v", e)
			}
			// What is accepted round-trips through DigestLine.
			again, err := ParseDigests([]byte(DigestLine(e.SHA256, e.Name)))
			if err != nil || len(again) != 1 || again[0].Name != e.Name || again[0].SHA256 != e.SHA256 {
				t.Fatalf("round trip of %+v: %+v %v", e, again, err)
			}
		}
	})
}
