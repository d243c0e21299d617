package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/records"
)

// The evidence judges an emergency commit with the rule of guard changes:
// 24 hours from the commit, a record's due time only when earlier, and a
// commit dated in the future overdue until documented.
func TestEmergencyStateDueRule(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	const hash = "0123456789abcdef0123456789abcdef01234567"
	record := func(opened, due, body string) *records.Record {
		t.Helper()
		r, err := records.Parse("docs/changes/emergency/r.md", []byte("---\ncategory: emergency\ncontrol: A.8.32\nopened: "+opened+"\ndue: "+due+"\ncommit: "+hash+"\n---\n\n## Summary\n\n"+body+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name      string
		committed string
		rec       *records.Record
		state     string
		due       string
		severity  report.Severity // "" : no finding
		says      string
	}{
		{"record's dates pushed out by an edit", "2026-11-27T10:00:00Z", record("2027-01-01T00:00:00Z", "2027-01-01T12:00:00Z", "TODO"),
			"overdue", "2026-11-28T10:00:00Z", report.SeverityError, "past its due time 2026-11-28T10:00:00Z"},
		{"record opened before the fix: its earlier due counts", "2026-11-27T13:00:00Z", record("2026-11-27T08:00:00Z", "2026-11-28T08:00:00Z", "TODO"),
			"overdue", "2026-11-28T08:00:00Z", report.SeverityError, "past its due time 2026-11-28T08:00:00Z"},
		{"open record within the 24 hours", "2026-11-28T09:00:00Z", record("2026-11-28T09:00:00Z", "2026-11-29T09:00:00Z", "TODO"),
			"open", "2026-11-29T09:00:00Z", "", ""},
		{"documented record, late or not", "2026-11-20T09:00:00Z", record("2026-11-20T09:00:00Z", "2026-11-21T09:00:00Z", "Fixed."),
			"documented", "2026-11-21T09:00:00Z", "", ""},
		{"no record yet", "2026-11-28T09:00:00Z", nil,
			RecordMissing, "2026-11-29T09:00:00Z", report.SeverityWarning, "must be documented by 2026-11-29T09:00:00Z"},
		{"no record, past 24 hours", "2026-11-27T09:00:00Z", nil,
			RecordMissing, "2026-11-28T09:00:00Z", report.SeverityError, "due 2026-11-28T09:00:00Z"},
		{"no record, dated in the future", "2026-12-30T09:00:00Z", nil,
			RecordMissing, "2026-12-31T09:00:00Z", report.SeverityError, "dated 2026-12-30T09:00:00Z, after this document"},
		{"open record, dated in the future", "2026-12-30T09:00:00Z", record("2026-12-30T09:00:00Z", "2026-12-31T09:00:00Z", "TODO"),
			"overdue", "2026-12-31T09:00:00Z", report.SeverityError, "a deadline cannot run from a date in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tc.committed)
			var recs []*records.Record
			if tc.rec != nil {
				recs = append(recs, tc.rec)
			}
			ec, f := emergencyState(recs, ChangeCommit{Commit: hash, Subject: "Fix", Time: at}, now)
			if ec.State != tc.state || ec.Due.Format(time.RFC3339) != tc.due {
				t.Errorf("state %s due %s, want %s %s", ec.State, ec.Due.Format(time.RFC3339), tc.state, tc.due)
			}
			switch {
			case tc.severity == "" && f != nil:
				t.Errorf("finding %+v, want none", f)
			case tc.severity != "" && (f == nil || f.Severity != tc.severity || !strings.Contains(f.Message, tc.says)):
				t.Errorf("finding %+v, want %s saying %q", f, tc.severity, tc.says)
			}
		})
	}
}
