package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
)

const workerName = "demo-worker"

// workerFiles is the demo project: a Worker with a health route, its
// smoke test (guard deploy's verify command), a D1 migrations folder.
var workerFiles = map[string]string{
	"README.md":            "# demo worker\n\nA tiny Worker deployed under the change-management policy.\n",
	".gitignore":           "node_modules/\n",
	"docs/threat-model.md": "# Threat model\n\nThe worker serves public, non-personal data.\n",
	"guard.toml": `# The policy's setup, scaled down to the demo.
[deploy]
verify = ["node scripts/smoke.mjs"]
`,
	"wrangler.toml": `name = "demo-worker"
main = "src/index.js"
compatibility_date = "2025-01-01"
workers_dev = true

[[d1_databases]]
binding = "DB"
database_name = "demo-db"
database_id = "5d0e8c1a-0000-4000-8000-00000000d1d1"
`,
	"src/index.js": `export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    return new Response("Hello from the demo worker");
  },
};
`,
	"scripts/smoke.mjs": `// The post-deploy check: the deployed code must answer /health with 200.
import worker from "../src/index.js";
const res = await worker.fetch(new Request("https://demo.example/health"));
if (res.status !== 200) {
  console.error("smoke: /health answered " + res.status);
  process.exit(1);
}
console.log("smoke: /health answered 200");
`,
	"docs/rollouts/0001-first-release.md": "# First release of demo-worker\n\n1. Deploy with guard deploy. 2. Verify /health. 3. Roll back with guard rollback.\n",
	"migrations/0001_init.sql": `-- Migration number: 0001
CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  body TEXT NOT NULL,
  author TEXT
);
`,
}

func (s *sandbox) write(rel, content string) error {
	return writeTree(s.work, map[string]string{rel: content})
}

func (s *sandbox) replaceIn(rel, old, new string) error {
	p := filepath.Join(s.work, filepath.FromSlash(rel))
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), old) {
		return fmt.Errorf("%s does not contain %q", rel, old)
	}
	return os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644)
}

// merge is the hosting provider merging a reviewed pull request: a merge
// commit made on the server side, outside the developer's hooks.
func (s *sandbox) merge(branch string, number int) error {
	if err := s.git(s.merger, "fetch", "-q", "origin"); err != nil {
		return err
	}
	if err := s.git(s.merger, "reset", "-q", "--hard", "origin/main"); err != nil {
		return err
	}
	msg := fmt.Sprintf("Merge pull request #%d from dana/%s", number, branch)
	if err := s.git(s.merger, "merge", "-q", "--no-ff", "-m", msg, "-m", "Reviewed-by: Rui Reviewer <rui@example.com>", "origin/"+branch); err != nil {
		return err
	}
	if err := s.git(s.merger, "push", "-q", "origin", "main"); err != nil {
		return err
	}
	fmt.Fprintf(s.o.Out, "   (the hosting provider merges pull request #%d into main after review)\n", number)
	if err := s.git(s.work, "switch", "-q", "main"); err != nil {
		return err
	}
	return s.git(s.work, "pull", "-q", "--ff-only", "origin", "main")
}

func (s *sandbox) api() *cfapi.Client {
	return cfapi.New(demoToken, cfemu.DefaultAccountID, cfapi.WithBaseURL(s.baseURL))
}

// serving is the version the worker's newest deployment serves at 100%.
func (s *sandbox) serving() (string, error) {
	d, err := s.api().LatestDeployment(s.ctx, workerName)
	if err != nil {
		return "", err
	}
	if len(d.Versions) != 1 || d.Versions[0].Percentage != 100 {
		return "", fmt.Errorf("the newest deployment does not serve one version at 100%%")
	}
	return d.Versions[0].VersionID, nil
}

func steps() []step {
	var goodVersion string
	return []step{
		{
			title: "Every commit carries its change category, inferred when absent",
			say:   "A documentation change is standard; a code change is normal. The commit-msg hook\nappends the Change-Category trailer and says why.",
			run: func(s *sandbox) error {
				if err := s.git(s.work, "switch", "-q", "-c", "greeting"); err != nil {
					return err
				}
				if err := s.write("README.md", workerFiles["README.md"]+"\nRun `guard demo` to see the policy at work.\n"); err != nil {
					return err
				}
				if err := s.step(s.work, `git commit -am "docs: explain the demo"`, 0, "git", []string{"commit", "-q", "-am", "docs: explain the demo"}, `Change-Category: standard inferred`); err != nil {
					return err
				}
				if err := s.replaceIn("src/index.js", "Hello from the demo worker", "Hello from the demo worker, friend"); err != nil {
					return err
				}
				if err := s.step(s.work, `git commit -am "feat: a friendlier greeting"`, 0, "git", []string{"commit", "-q", "-am", "feat: a friendlier greeting"}, `Change-Category: normal inferred`); err != nil {
					return err
				}
				if _, err := s.run(s.work, "git", "log", "-2", "--format=%s => %(trailers:key=Change-Category,valueonly,separator=)"); err != nil {
					return err
				}
				s.show("git log -2 --format='%s => %(trailers:key=Change-Category,valueonly)'")
				for _, l := range strings.Split(strings.TrimSpace(s.lastOut), "\n") {
					fmt.Fprintf(s.o.Out, "     %s\n", l)
				}
				return s.expect(0, `(?m)^feat: a friendlier greeting => normal$`, `(?m)^docs: explain the demo => standard$`)
			},
		},
		{
			title: "A commit that understates its category is refused",
			say:   "Claiming standard (no review needed beyond CI) for a code change is refused,\nnaming the path that makes it normal.",
			run: func(s *sandbox) error {
				if err := s.replaceIn("src/index.js", "friend", "friends"); err != nil {
					return err
				}
				if err := s.step(s.work, `git commit -am "chore: tidy" -m "Change-Category: standard"`, 1, "git",
					[]string{"commit", "-q", "-am", "chore: tidy", "-m", "Change-Category: standard"},
					`understates this change, which is normal`, `src/index.js`); err != nil {
					return err
				}
				return s.git(s.work, "checkout", "-q", "--", "src/index.js")
			},
		},
		{
			title: "A migration that drops a column is refused at push",
			say:   "D1 cannot roll a schema back, and the previous worker version still reads the column.\nThe pre-push hook replays the migrations on SQLite and finds the drop.",
			run: func(s *sandbox) error {
				if err := s.write("migrations/0002_drop_author.sql", "-- Migration number: 0002\nALTER TABLE notes DROP COLUMN author;\n"); err != nil {
					return err
				}
				if err := s.git(s.work, "add", "migrations"); err != nil {
					return err
				}
				if err := s.git(s.work, "commit", "-q", "-m", "feat: notes no longer have authors"); err != nil {
					return err
				}
				if err := s.step(s.work, "git push origin greeting", 1, "git", []string{"push", "-q", "origin", "greeting"},
					`migrations/0002_drop_author.sql:2: .*drop-column`); err != nil {
					return err
				}
				if err := s.git(s.work, "reset", "-q", "--hard", "HEAD~1"); err != nil {
					return err
				}
				return s.step(s.work, "git reset --hard HEAD~1 && git push origin greeting", 0, "git", []string{"push", "-q", "origin", "greeting"})
			},
		},
		{
			title: "A deploy from a tree that differs from origin/main is refused",
			say:   "After the pull request is merged, an uncommitted edit would ship code nobody reviewed.\nguard deploy refuses before wrangler or the Cloudflare API is touched.",
			run: func(s *sandbox) error {
				if err := s.merge("greeting", 1); err != nil {
					return err
				}
				if err := s.replaceIn("src/index.js", "friend", "pal"); err != nil {
					return err
				}
				before := len(s.emu.Requests())
				if err := s.step(s.work, "guard deploy", 1, "guard", []string{"deploy"}, `src/index.js`); err != nil {
					return err
				}
				if n := len(s.emu.Requests()) - before; n != 0 {
					return fmt.Errorf("%d request(s) reached the Cloudflare API", n)
				}
				return s.git(s.work, "checkout", "-q", "--", "src/index.js")
			},
		},
		{
			title: "A clean deploy, recorded with the version Cloudflare assigned",
			say:   "wrangler deploy runs for real; guard confirms through the API which version went out,\nruns the smoke test, and records the deploy as verified good in its ledger.",
			run: func(s *sandbox) error {
				if err := s.step(s.work, "guard deploy", 0, "guard", []string{"deploy"}); err != nil {
					return err
				}
				v, err := s.serving()
				if err != nil {
					return err
				}
				goodVersion = v
				if _, err := s.guard(s.work, "history", "--json"); err != nil {
					return err
				}
				var hist []map[string]any
				if err := json.Unmarshal([]byte(s.lastOut), &hist); err != nil {
					return fmt.Errorf("guard history --json: %w", err)
				}
				if len(hist) == 0 || hist[0]["version_id"] != v || hist[0]["verified"] != "good" {
					return fmt.Errorf("guard history does not show %s verified good: %s", v, s.lastOut)
				}
				fmt.Fprintf(s.o.Out, "   $ guard history --json\n     newest: version %s, commit %.12s, verified %s\n", v, hist[0]["commit"], hist[0]["verified"])
				return nil
			},
		},
		{
			title: "A deploy builds from the commit alone: a poisoned working directory ships nothing",
			say:   "An attacker (or an accident) leaves a wrangler.json naming another worker and its code\nin the working directory, hidden from git status by .git/info/exclude; wrangler would\nprefer it to the tracked wrangler.toml. guard deploy builds in a temporary checkout of\nthe exact commit, so only the commit ships; the record carries the bundle's SHA-256.",
			run:   func(s *sandbox) error { return s.pristineIgnoresPoison(&goodVersion) },
		},
		{
			title: "A bad deploy: verification fails",
			say:   "A reviewed refactor breaks /health. The deploy goes out, the smoke test fails,\nguard records the version as bad and prints the rollback command.",
			run: func(s *sandbox) error {
				if err := s.git(s.work, "switch", "-q", "-c", "refactor"); err != nil {
					return err
				}
				if err := s.replaceIn("src/index.js", `return new Response("ok");`, `return new Response("ok", { status: 500 });`); err != nil {
					return err
				}
				if err := s.git(s.work, "commit", "-q", "-am", "refactor: shared response helper"); err != nil {
					return err
				}
				if err := s.git(s.work, "push", "-q", "origin", "refactor"); err != nil {
					return err
				}
				if err := s.merge("refactor", 2); err != nil {
					return err
				}
				if err := s.step(s.work, "guard deploy", 1, "guard", []string{"deploy"}, `smoke: /health answered 500`, `guard rollback`); err != nil {
					return err
				}
				v, err := s.serving()
				if err != nil {
					return err
				}
				if v == goodVersion {
					return fmt.Errorf("the bad version did not go out")
				}
				return nil
			},
		},
		{
			title: "One command back to the last verified-good version",
			say:   "guard rollback picks the newest version verified good (not merely the previous one),\nruns wrangler rollback, confirms it through the API and writes the emergency-change\nrecord that the policy wants within 24 hours.",
			run: func(s *sandbox) error {
				if err := s.step(s.work, `guard rollback --yes --reason "health check fails after the refactor"`, 0, "guard",
					[]string{"rollback", "--yes", "--reason", "health check fails after the refactor"}, goodVersion[:8]); err != nil {
					return err
				}
				v, err := s.serving()
				if err != nil {
					return err
				}
				if v != goodVersion {
					return fmt.Errorf("serving %s, want the last good version %s", v, goodVersion)
				}
				records, _ := filepath.Glob(filepath.Join(s.work, "docs", "changes", "emergency", "*rollback*.md"))
				if len(records) != 1 {
					return fmt.Errorf("want one emergency record, found %d", len(records))
				}
				rel := strings.TrimPrefix(records[0], s.work+string(filepath.Separator))
				fmt.Fprintf(s.o.Out, "     record: %s (due within 24 hours)\n", rel)
				// The record is documented and lands through a pull request,
				// as the policy wants for every change.
				content, err := os.ReadFile(records[0])
				if err != nil {
					return err
				}
				filled := strings.ReplaceAll(string(content), "TODO", "Documented in the demo: the refactor returned 500 on /health; reverted in a follow-up.")
				if err := os.WriteFile(records[0], []byte(filled), 0o644); err != nil {
					return err
				}
				if err := s.git(s.work, "switch", "-q", "-c", "record-rollback"); err != nil {
					return err
				}
				if err := s.git(s.work, "add", rel); err != nil {
					return err
				}
				if err := s.git(s.work, "commit", "-q", "-m", "docs: the rollback's emergency-change record"); err != nil {
					return err
				}
				if err := s.git(s.work, "push", "-q", "origin", "record-rollback"); err != nil {
					return err
				}
				if err := s.merge("record-rollback", 3); err != nil {
					return err
				}
				return s.step(s.work, "guard changes", 0, "guard", []string{"changes"}, `documented`)
			},
		},
		{
			title: "Evidence for the policy's collectors",
			say:   "merge-activity, deployments and branch-protection, each one deterministic JSON document\nwith its SHA-256 beside it. The sandbox's first commit went straight to main before guard\nwas installed: merge-activity reports it as a direct push.",
			run: func(s *sandbox) error {
				out := filepath.Join(s.root, "evidence")
				if err := s.step(s.work, "guard evidence merge-activity --since 24h --out evidence", 0, "guard",
					[]string{"evidence", "merge-activity", "--since", "24h", "--out", out}, `direct-push`, `4 changes`); err != nil {
					return err
				}
				if err := s.step(s.work, "guard evidence deployments --since 7d --out evidence", 0, "guard",
					[]string{"evidence", "deployments", "--since", "7d", "--out", out}, `4 deployments`); err != nil {
					return err
				}
				if strings.Contains(s.lastErr, "guard: error:") {
					return fmt.Errorf("the deployments evidence has findings: every deploy went through guard and the rollback is documented")
				}
				if err := s.step(s.work, "guard evidence branch-protection --out evidence", 0, "guard",
					[]string{"evidence", "branch-protection", "--out", out}); err != nil {
					return err
				}
				if err := s.step(s.work, "guard evidence verify evidence", 0, "guard", []string{"evidence", "verify", out}); err != nil {
					return err
				}
				docs, _ := filepath.Glob(filepath.Join(out, "*.json"))
				if len(docs) != 3 {
					return fmt.Errorf("want 3 evidence documents, found %d", len(docs))
				}
				for _, d := range docs {
					fmt.Fprintf(s.o.Out, "     %s\n", filepath.Base(d))
				}
				return nil
			},
		},
		{
			title: "A gradual deploy catches a bad version at 0 %: no user request reaches it",
			say:   "The team turns on gradual deploys ([deploy.rollout]) with a health check through the\nworker's edge. The next version is uploaded without traffic and smoke-tested at 0 % with\nthe check pinned to it (Cloudflare-Workers-Version-Overrides); it fails, so guard goes\nback to the previous version at once: no emergency, nobody was served by it.",
			run:   func(s *sandbox) error { return s.gradualCatchesBadVersion() },
		},
	}
}

// gradualCatchesBadVersion is the gradual-deploy step: [deploy.rollout]
// and an edge health check land through a pull request, then a version
// whose /health fails is caught at 0 %.
func (s *sandbox) gradualCatchesBadVersion() error {
	serving, err := s.serving()
	if err != nil {
		return err
	}
	edge := strings.TrimSuffix(s.baseURL, cfemu.APIPrefix) + strings.TrimSuffix(cfemu.EdgePrefix, "/") + "/" + workerName + "/health"
	if err := s.git(s.work, "switch", "-q", "-c", "gradual"); err != nil {
		return err
	}
	toml := workerFiles["guard.toml"] + "\n[[deploy.health]]\nurl = \"" + edge + "\"\nretries = 0\n\n[deploy.rollout]\nsteps = [0, 10, 50, 100]\n"
	if err := s.write("guard.toml", toml); err != nil {
		return err
	}
	if err := s.git(s.work, "commit", "-q", "-am", "ci: gradual deploys with an edge health check"); err != nil {
		return err
	}
	// main still carries the refactor rolled back above; its follow-up
	// is no better.
	if err := s.replaceIn("src/index.js", `{ status: 500 }`, `{ status: 503 }`); err != nil {
		return err
	}
	if err := s.git(s.work, "commit", "-q", "-am", "fix: /health reports the queue draining"); err != nil {
		return err
	}
	if err := s.git(s.work, "push", "-q", "origin", "gradual"); err != nil {
		return err
	}
	if err := s.merge("gradual", 4); err != nil {
		return err
	}
	if err := s.git(s.work, "rev-parse", "HEAD"); err != nil {
		return err
	}
	head := strings.TrimSpace(s.lastOut)
	// The emulator runs no code: it answers for the version what its
	// /health would.
	if err := s.emu.SetVersionHealth(cfemu.HealthRule{Worker: workerName, Tag: head, Status: 503}); err != nil {
		return err
	}
	fmt.Fprintf(s.o.Out, "   (the emulator's edge answers /health with 503 for the version built from %.12s, as its code does)\n", head)
	if err := s.step(s.work, "guard deploy", 1, "guard", []string{"deploy"},
		`step 1 of 4: version \S+ at 0%`, `health: GET \S+/health: status 503`,
		`stopped before any user request reached it`, `failed its checks at step 1 of 4 \(0%\)`); err != nil {
		return err
	}
	now, err := s.serving()
	if err != nil {
		return err
	}
	if now != serving {
		return fmt.Errorf("serving %s after the failed rollout, want %s", now, serving)
	}
	st := s.emu.Snapshot().Accounts[cfemu.DefaultAccountID].Scripts[workerName]
	bad := st.Versions[len(st.Versions)-1].ID
	for _, d := range st.Deployments {
		for _, v := range d.Versions {
			if v.VersionID == bad && v.Percentage > 0 {
				return fmt.Errorf("deployment %s gave the bad version %g%%", d.ID, v.Percentage)
			}
		}
	}
	served := s.emu.EdgeServed(workerName)[bad]
	if served.Percentage != 0 || served.Override == 0 {
		return fmt.Errorf("the bad version served %d user request(s) and %d pinned check(s)", served.Percentage, served.Override)
	}
	fmt.Fprintf(s.o.Out, "     version %s: %d pinned health check(s), %d user request(s); %s serves 100%%\n", bad, served.Override, served.Percentage, serving)
	return nil
}

// pristineIgnoresPoison is the pristine-deploy step: a working directory
// poisoned with excluded files deploys exactly the commit, and the
// recorded bundle hash is the module Cloudflare received. goodVersion
// becomes the version it deployed (verified good: the newest good one).
func (s *sandbox) pristineIgnoresPoison(goodVersion *string) error {
	if err := s.write("wrangler.json", `{"name": "evil-worker", "main": "evil.js", "compatibility_date": "2025-01-01"}`+"\n"); err != nil {
		return err
	}
	if err := s.write("evil.js", `export default { async fetch() { return new Response("pwned"); } };`+"\n"); err != nil {
		return err
	}
	exclude := filepath.Join(s.work, ".git", "info", "exclude")
	f, err := os.OpenFile(exclude, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString("wrangler.json\nevil.js\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	if _, err := s.run(s.work, "git", "status", "--porcelain"); err != nil {
		return err
	}
	if strings.TrimSpace(s.lastOut) != "" {
		return fmt.Errorf("git status is not clean: %s", s.lastOut)
	}
	fmt.Fprintf(s.o.Out, "   $ git status --porcelain   (wrangler.json and evil.js are excluded)\n")
	if err := s.step(s.work, "guard deploy", 0, "guard", []string{"deploy"}, `deployed demo-worker version`); err != nil {
		return err
	}
	acct := s.emu.Snapshot().Accounts[cfemu.DefaultAccountID]
	if acct == nil || acct.Scripts[workerName] == nil {
		return fmt.Errorf("the emulator has no %s", workerName)
	}
	if acct.Scripts["evil-worker"] != nil {
		return fmt.Errorf("evil-worker was deployed from the working directory")
	}
	v, err := s.serving()
	if err != nil {
		return err
	}
	var served string
	for _, ver := range acct.Scripts[workerName].Versions {
		if ver.ID == v {
			served = ver.Modules[ver.MainModule]
		}
	}
	ledger, err := os.ReadFile(filepath.Join(s.work, ".git", "guard", "ledger.jsonl"))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(ledger)), "\n")
	var last struct {
		Bundle       map[string]string `json:"bundle"`
		BundleSHA256 string            `json:"bundle_sha256"`
		Isolation    string            `json:"isolation"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		return err
	}
	if served == "" || last.Bundle["index.js"] != served || last.Isolation != "pristine" {
		return fmt.Errorf("the record's bundle (%v, isolation %q) is not the module Cloudflare received (%s)", last.Bundle, last.Isolation, served)
	}
	fmt.Fprintf(s.o.Out, "     evil-worker: never deployed; bundle %.12s…, index.js %.12s… = the module Cloudflare received\n", last.BundleSHA256, served)
	*goodVersion = v
	for _, p := range []string{"wrangler.json", "evil.js"} {
		if err := os.Remove(filepath.Join(s.work, p)); err != nil {
			return err
		}
	}
	return nil
}
