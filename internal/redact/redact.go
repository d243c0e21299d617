// Package redact removes credentials from text before guard shows or
// stores it.
//
// Contract: URLs rewrites every git remote URL form that can carry a
// secret, wherever it sits in a message (git's own errors quote remote
// URLs), and leaves everything else byte for byte:
//   - scheme URLs (https://, http://, ssh://, git://, git+ssh://, …): the
//     whole userinfo before '@' becomes "***" — a lone user name there is a
//     token as often as not (https://<token>@host/…);
//   - scp-like remotes ([user[:secret]@]host:path): a userinfo holding a
//     colon (user:token@host:org/repo) becomes "***"; a plain ssh user name
//     (git@host:org/repo) is kept, it is not a secret.
//
// The redacted form stays recognisable ("https://***@github.com/org/repo")
// so the user can tell which remote a message is about.
package redact

import (
	"regexp"
	"sync"
)

// Mask replaces a credential.
const Mask = "***"

var (
	// scheme://userinfo@ — userinfo stops at '/', '@' and anything that
	// ends a URL in prose or quoting.
	schemeCreds = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"<>]+@`)
	})
	// user:secret@host: at the start of a word (scp-like). The host is
	// followed by the ':' of the path; the secret cannot hold '/', '@' or
	// whitespace. Scheme URLs never match: their ':' is followed by "//"
	// and the part before it has no '@'.
	scpCreds = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(^|[\s'"(<=])([^\s/@:'"<>=(]+:[^\s/@'"<>]+)@([A-Za-z0-9._\[\]-]+:)`)
	})
)

// URLs returns s with the credentials of every remote URL in it masked.
func URLs(s string) string {
	s = schemeCreds().ReplaceAllString(s, "${1}"+Mask+"@")
	return scpCreds().ReplaceAllString(s, "${1}"+Mask+"@${3}")
}
