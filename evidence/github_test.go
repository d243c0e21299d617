package evidence

import (
	"strings"
	"testing"
)

func TestParseRemoteURL(t *testing.T) {
	for _, tc := range []struct {
		in, host, full string
	}{
		{"https://github.com/acme/api.git", "github.com", "acme/api"},
		{"https://github.com/acme/api", "github.com", "acme/api"},
		{"https://github.com/acme/api/", "github.com", "acme/api"},
		{"HTTPS://GitHub.com/acme/api.git", "github.com", "acme/api"},
		{"https://x-access-token:ghs_SECRET@github.com/acme/api.git", "github.com", "acme/api"},
		{"http://github.example.com:8080/acme/my.repo.git", "github.example.com", "acme/my.repo"},
		{"ssh://git@github.com/acme/api.git", "github.com", "acme/api"},
		{"ssh://git@github.com:22/acme/api.git", "github.com", "acme/api"},
		{"git+ssh://git@github.com/acme/api", "github.com", "acme/api"},
		{"git://github.com/acme/api.git", "github.com", "acme/api"},
		{"git@github.com:acme/api.git", "github.com", "acme/api"},
		{"git@github.com:/acme/api.git", "github.com", "acme/api"},
		{"github.com:acme/api", "github.com", "acme/api"},
		{"org-123@ssh.github.com:acme/api.git", "ssh.github.com", "acme/api"},
		{"[git@github.com]:acme/api.git", "github.com", "acme/api"},
		{"[::1]:acme/api.git", "::1", "acme/api"},
	} {
		r, err := ParseRemoteURL(tc.in)
		if err != nil {
			t.Errorf("ParseRemoteURL(%q): %v", tc.in, err)
			continue
		}
		if r.Host != tc.host || r.FullName() != tc.full {
			t.Errorf("ParseRemoteURL(%q) = %s %s, want %s %s", tc.in, r.Host, r.FullName(), tc.host, tc.full)
		}
	}
	for _, bad := range []string{
		"", "/srv/git/api.git", "../api", "./api.git", "file:///srv/git/acme/api.git",
		"https://github.com/acme", "https://github.com/acme/api/tree/main", "https://github.com/",
		"git@github.com:api.git", "C:/repos/api", "https://github.com/ac me/api", "https://github.com/acme/..",
		"ftp://github.com/acme/api",
	} {
		if r, err := ParseRemoteURL(bad); err == nil {
			t.Errorf("ParseRemoteURL(%q) = %+v, want an error", bad, r)
		}
	}
	_, err := ParseRemoteURL("https://user:ghp_SECRET@github.com/only-owner")
	if err == nil || strings.Contains(err.Error(), "ghp_SECRET") {
		t.Errorf("error %v shows the credentials", err)
	}
}

func TestParseRepository(t *testing.T) {
	if o, n, err := ParseRepository("acme/api"); err != nil || o != "acme" || n != "api" {
		t.Errorf("%s %s %v", o, n, err)
	}
	for _, bad := range []string{"", "acme", "acme/", "/api", "acme/api/x", "acme/.."} {
		if _, _, err := ParseRepository(bad); err == nil {
			t.Errorf("ParseRepository(%q) accepted", bad)
		}
	}
}

func FuzzParseRemoteURL(f *testing.F) {
	for _, s := range []string{
		"https://github.com/acme/api.git", "git@github.com:acme/api.git", "ssh://git@github.com:22/acme/api",
		"https://tok:secret@github.com/acme/api", "/local/path", "C:\\repo", "git@[::1]:a/b", "https://%zz/a/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRemoteURL(s)
		if err != nil {
			// Credentials never reach an error.
			if i := strings.Index(s, "://"); i >= 0 {
				rest := s[i+3:]
				if end := strings.IndexAny(rest, "/?#"); end >= 0 {
					rest = rest[:end]
				}
				if at := strings.LastIndexByte(rest, '@'); at > 0 {
					if secret := rest[:at]; len(secret) > 8 && strings.Contains(err.Error(), secret) {
						t.Fatalf("error %q shows %q", err, secret)
					}
				}
			}
			return
		}
		if !ownerRe().MatchString(r.Owner) || !repoRe().MatchString(r.Name) || r.Host == "" || strings.ContainsAny(r.Host, "/@") {
			t.Fatalf("ParseRemoteURL(%q) = %+v", s, r)
		}
		if strings.Contains(r.Owner+r.Name, "/") {
			t.Fatalf("path separator in %+v", r)
		}
	})
}
