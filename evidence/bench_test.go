package evidence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gittest"
)

// BenchmarkMergeActivity collects a busy day: 20 pull-request merges of two
// commits each and 10 squash merges on origin/main.
func BenchmarkMergeActivity(b *testing.B) {
	gitEnv(b)
	work, _ := newClone(b)
	gittest.CommitAt(b, work, "2026-11-26T10:00:00Z", "init\n\nChange-Category: normal", "src/index.js", "export {}\n")
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	next := func() string { at = at.Add(time.Minute); return at.Format(time.RFC3339) }
	for i := 0; i < 20; i++ {
		br := fmt.Sprintf("feature-%d", i)
		gittest.Git(b, work, "checkout", "--quiet", "-b", br, "main")
		gittest.CommitAt(b, work, next(), fmt.Sprintf("Add feature %d\n\nChange-Category: normal\nReviewed-by: Grace <grace@example.com>", i),
			fmt.Sprintf("src/f%d.js", i), "export {}\n")
		gittest.CommitAt(b, work, next(), fmt.Sprintf("Document feature %d\n\nChange-Category: standard", i),
			fmt.Sprintf("docs/f%d.md", i), "# f\n")
		gittest.Git(b, work, "checkout", "--quiet", "main")
		gittest.Run(b, gittest.At(next()), work, "merge", "--quiet", "--no-ff", br, "-m", fmt.Sprintf("Merge pull request #%d from acme/%s", i+1, br))
		if i%2 == 0 {
			gittest.CommitAt(b, work, next(), fmt.Sprintf("Docs %d (#%d)\n\nChange-Category: standard", i, 100+i), fmt.Sprintf("docs/s%d.md", i), "s\n")
		}
	}
	gittest.Git(b, work, "push", "--quiet", "origin", "main")
	repo := openRepo(b, work)
	cfg := config.Defaults()
	b.ResetTimer()
	for b.Loop() {
		doc, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: cfg, Period: mergePeriod})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(doc.Items.([]Change)); n != 30 {
			b.Fatalf("%d changes, want 30", n)
		}
	}
}
