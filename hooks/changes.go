package hooks

import (
	"context"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/policy"
)

// Rules turns the configuration into inference rules.
func Rules(cfg *config.Config) policy.Rules {
	r := policy.Rules{Standard: cfg.Categories.Standard, Major: cfg.Categories.Major}
	for _, w := range cfg.Workers {
		r.Configs = append(r.Configs, w.Config)
	}
	return r
}

// Changes adapts a git diff to policy changes whose contents are read from
// git objects only when the inference asks: newRev is the side after the
// change (":" for the index), oldRev the side before ("" when there is
// none, e.g. a root commit).
func Changes(ctx context.Context, repo *gitx.Repo, newRev, oldRev string, fcs []gitx.FileChange) []policy.Change {
	out := make([]policy.Change, 0, len(fcs))
	for _, fc := range fcs {
		fc := fc
		c := policy.Change{Path: fc.Path, OldPath: fc.OldPath, Kind: policy.ChangeKind(fc.Kind)}
		c.New = func() ([]byte, error) {
			if fc.Kind == 'D' {
				return nil, nil
			}
			data, _, err := repo.Blob(ctx, newRev, fc.Path)
			return data, err
		}
		c.Old = func() ([]byte, error) {
			if fc.Kind == 'A' || oldRev == "" {
				return nil, nil
			}
			data, _, err := repo.Blob(ctx, oldRev, fc.OldPath)
			return data, err
		}
		out = append(out, c)
	}
	return out
}
