package main

import (
	"fmt"
	"strings"

	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/fail"
)

// EmulatorCmd serves guard's Cloudflare API emulator on loopback for manual
// end-to-end runs and demos (hidden: not a production command).
type EmulatorCmd struct {
	Addr    string   `help:"Loopback address to listen on (port 0 picks a free one)." default:"127.0.0.1:8787"`
	State   string   `help:"Load the state from this JSON file and write it back after every change." placeholder:"FILE" type:"path"`
	Account string   `help:"Account ID to serve (default: the emulator's built-in one)." placeholder:"ID"`
	D1      []string `name:"d1" help:"Create a D1 database, as UUID=NAME (repeatable)." placeholder:"UUID=NAME"`
}

// Run serves until interrupted; it prints the environment to export.
func (c *EmulatorCmd) Run(env *Env) error {
	account := c.Account
	if account == "" {
		account = cfemu.DefaultAccountID
	}
	var opts []cfemu.Option
	if c.Account != "" {
		opts = append(opts, cfemu.WithAccount(c.Account))
	}
	for _, d := range c.D1 {
		uuid, name, ok := strings.Cut(d, "=")
		if !ok || uuid == "" || name == "" {
			return fail.Usagef("--d1 %q: want UUID=NAME", d)
		}
		opts = append(opts, cfemu.WithD1Database(account, uuid, name))
	}
	err := cfemu.Serve(env.Ctx, c.Addr, c.State, func(baseURL string) {
		fmt.Fprintf(env.Stdout, "export CLOUDFLARE_API_BASE_URL=%s\nexport CLOUDFLARE_BASE_URL=%s\nexport CLOUDFLARE_ACCOUNT_ID=%s\n", baseURL, baseURL, account)
		fmt.Fprintf(env.Stderr, "guard: emulator serving on %s (admin: %s); any non-empty CLOUDFLARE_API_TOKEN is accepted; Ctrl-C stops it\n",
			baseURL, strings.TrimSuffix(baseURL, cfemu.APIPrefix)+cfemu.AdminPrefix)
	}, opts...)
	if err != nil {
		return fail.Usage(err)
	}
	return nil
}
