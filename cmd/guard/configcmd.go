package main

import (
	"encoding/json"
	"fmt"

	"github.com/guardcm/guard/internal/fail"
)

// ConfigCmd prints the effective configuration.
type ConfigCmd struct {
	JSON bool `help:"Print JSON instead of TOML."`
}

// Run prints the configuration, defaults filled in.
func (c *ConfigCmd) Run(env *Env) error {
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cfg)
	}
	src := cfg.Source
	if src == "" {
		src = "defaults (no guard.toml)"
	}
	fmt.Fprintf(env.Stdout, "# effective configuration from %s\n", src)
	b, err := cfg.Marshal()
	if err != nil {
		return fail.External(err)
	}
	_, err = env.Stdout.Write(b)
	return err
}
