package rollback

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/wrangler"
)

func TestRollbackMessage(t *testing.T) {
	p := &Plan{From: Side{VersionID: vid(3)}, To: Side{VersionID: vid(1)}}
	if got := p.rollbackMessage(); got != "guard rollback from 00000003 to 00000001" {
		t.Errorf("default message %q", got)
	}
	p.Reason = strings.Repeat("checkout 🔥 fails\n", 20)
	msg := wrangler.TruncateMessage(p.rollbackMessage(), wrangler.MaxRollbackMessage)
	if n := len(utf16.Encode([]rune(msg))); n > 120 || n < 110 || strings.Contains(msg, "\n") {
		t.Errorf("message of %d UTF-16 units: %q", n, msg)
	}
}

func TestPlanWrite(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	p := &Plan{
		Worker: "api", Env: "staging", Account: "acc", Now: now, Position: 2, Versions: 3, Message: "it's broken",
		From: Side{VersionID: vid(3), Number: 3, Created: t0.Add(2 * time.Hour), Deployed: t0.Add(2 * time.Hour), DeployedBy: "bob@example.com",
			DeploymentID: "dep-3", Source: history.SourceOutside, Verified: "unverified",
			Split: []cfapi.DeploymentVersion{{VersionID: vid(3), Percentage: 90}, {VersionID: vid(2), Percentage: 10}}},
		To:          Side{VersionID: vid(1), Number: 1, Commit: strings.Repeat("a", 40), Subject: "Add the worker", Created: t0, Verified: "good"},
		Explanation: []string{"first reason", "second line"},
		Warnings:    []string{"look out"},
		Migrations: []Migration{
			{Path: "migrations/0002_x.sql", Findings: []report.Finding{{Rule: "rename-column", Severity: report.SeverityError, Line: 3, Message: "users.a renamed to b"}}},
			{Path: "migrations/0003_y.sql"},
		},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `Rollback plan for worker api (env staging, account acc)
  from  version 00000003-0000-4000-8000-000000000003 (number 3)
        unknown commit, uploaded 2026-11-02T10:00:00Z (1h00m ago)
        serving a split: 00000003-0000-4000-8000-000000000003 90%, 00000002-0000-4000-8000-000000000002 10%
        serving since 2026-11-02T10:00:00Z (1h00m ago) by bob@example.com outside guard, deployment dep-3; verified unverified
  to    version 00000001-0000-4000-8000-000000000001 (number 1), 2nd newest of 3
        commit aaaaaaaaaaaa "Add the worker", uploaded 2026-11-02T08:00:00Z (3h00m ago)
        no deployment of it is known; verified good
  why   first reason
        second line
  warning: look out
  D1 migrations added since the target's commit (2): D1 is not rolled back, the old code will run against this schema:
    migrations/0002_x.sql
      error rename-column: line 3: users.a renamed to b
    migrations/0003_y.sql
      no destructive or rename change found
  runs  wrangler rollback 00000001-0000-4000-8000-000000000001 '--message=it'\''s broken'
`
	if b.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", b.String(), want)
	}
	p.Migrations, p.MigrationsNote = nil, "the serving version has no known commit"
	b.Reset()
	_ = p.Write(&b)
	if !strings.Contains(b.String(), "  D1 migrations since the target's commit: unknown: the serving version has no known commit\n") {
		t.Errorf("note missing:\n%s", b.String())
	}
	p.MigrationsNote = ""
	b.Reset()
	_ = p.Write(&b)
	if !strings.Contains(b.String(), "  D1 migrations added since the target's commit: none\n") {
		t.Errorf("none missing:\n%s", b.String())
	}
}

func TestRecordCategory(t *testing.T) {
	std := []string{"**/*.md", "docs/**"}
	if got := recordCategory(std, "docs/changes/emergency/x.md"); got != "standard" {
		t.Errorf("got %s", got)
	}
	if got := recordCategory([]string{"docs/**"}, "changes/x.txt"); got != "normal" {
		t.Errorf("got %s", got)
	}
}

func TestDescribe(t *testing.T) {
	p := &Plan{Worker: "api", From: Side{VersionID: vid(2), DeploymentID: "d2"}, To: Side{VersionID: vid(1)}}
	d := []cfapi.Deployment{{ID: "d2", CreatedOn: t0, Versions: []cfapi.DeploymentVersion{{VersionID: vid(2), Percentage: 100}}}}
	if got := describe(d, nil, p); got != "deployment d2 (2026-11-02T08:00:00Z) serves version "+vid(2)+" at 100%, the version being rolled back from; unchanged since the plan" {
		t.Errorf("got %q", got)
	}
	if got := describe(nil, nil, p); got != "the API lists no deployment of api" {
		t.Errorf("got %q", got)
	}
	if got := describe(nil, &cfapi.APIError{Op: "list", StatusCode: 503}, p); !strings.HasPrefix(got, "unknown: the Cloudflare API could not be read (") {
		t.Errorf("got %q", got)
	}
}
