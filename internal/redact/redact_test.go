package redact

import (
	"strings"
	"testing"
)

func TestURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://x-access-token:ghs_SECRET@github.com/acme/api.git", "https://***@github.com/acme/api.git"},
		{"fatal: unable to access 'https://ghp_SECRET@github.com/acme/api.git/': 403", "fatal: unable to access 'https://***@github.com/acme/api.git/': 403"},
		{"ssh://git:SECRET@host:2222/x/y.git", "ssh://***@host:2222/x/y.git"},
		{"user:SECRET@github.com:org/repo", "***@github.com:org/repo"},
		{"remote URL user:SECRET@github.com:org/repo: the path is not owner/repository", "remote URL ***@github.com:org/repo: the path is not owner/repository"},
		{"'deploy:SE:CR:ET@gitlab.example.com:group/sub/repo.git'", "'***@gitlab.example.com:group/sub/repo.git'"},
		{"url=user:SECRET@[::1]:org/repo", "url=***@[::1]:org/repo"},
		// Nothing secret: kept byte for byte.
		{"git@github.com:acme/api.git", "git@github.com:acme/api.git"},
		{"https://github.com/acme/api", "https://github.com/acme/api"},
		{"time 10:00:00 and a@b.c", "time 10:00:00 and a@b.c"},
		{"/srv/git/remote.git", "/srv/git/remote.git"},
	} {
		got := URLs(c.in)
		if got != c.want {
			t.Errorf("URLs(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "SECRET") || strings.Contains(got, "SE:CR") {
			t.Errorf("URLs(%q) left the secret: %q", c.in, got)
		}
	}
}

func FuzzURLs(f *testing.F) {
	for _, s := range []string{"https://a:b@h/p", "u:p@h:o/r", "git@h:o/r", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := URLs(s)
		if URLs(got) != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, URLs(got))
		}
	})
}
