package main

import "testing"

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{
		"Change-Category: major understates this change": "Change-Category: major understates this change",
		"Checking the tree":               "checking the tree",
		"CLOUDFLARE_API_TOKEN is not set": "CLOUDFLARE_API_TOKEN is not set",
		"GitHub answered 500":             "GitHub answered 500",
		"Docs/threat-model.md: missing":   "Docs/threat-model.md: missing",
		"X":                               "X",
		"":                                "",
		"Unknown flag --x":                "unknown flag --x",
	} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
}
