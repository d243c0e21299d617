package ledger

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// sshKey makes an ed25519 key pair with the real ssh-keygen and returns
// the private key's path and the public key line.
func sshKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen is required (apt-get install openssh-client): %v", err)
	}
	key := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(pub))
}

func TestSignAndVerify(t *testing.T) {
	ctx := context.Background()
	gittest.Isolate(t, gittest.Options{})
	keys := t.TempDir()
	adaKey, adaPub := sshKey(t, keys, "ada")
	eveKey, _ := sshKey(t, keys, "eve")
	remote, _ := gittest.Remote(t, "allowed signers", ".guard/allowed_signers", "ada@example.com "+adaPub+"\n")
	dir := gittest.Clone(t, remote)
	repo := gittest.Open(t, gitx.Open, dir)

	// Without a signing key, signing is a usage error, not a silent skip.
	if _, err := SignerFor(ctx, repo, "ssh"); fail.KindOf(err) != fail.KindUsage {
		t.Fatalf("no key: %v", err)
	}
	if s, err := SignerFor(ctx, repo, "off"); s != nil || err != nil {
		t.Fatalf("off: %v %v", s != nil, err)
	}
	gittest.Git(t, dir, "config", "user.signingkey", adaKey)
	sign, err := SignerFor(ctx, repo, "ssh")
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifierFor(ctx, repo, "ssh", "refs/remotes/origin/main", ".guard/allowed_signers")
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Seq: 2, Time: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Kind: KindDeploy, Status: StatusSucceeded,
		Worker: "api", Commit: strings.Repeat("a", 40), VersionID: "v1", DeploymentID: "d1", Operator: "ada@example.com", Verified: VerifiedGood}
	signed, err := Sign(ctx, rec, sign)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(signed.Signature, "-----BEGIN SSH SIGNATURE-----") {
		t.Fatalf("signature %q", signed.Signature)
	}
	// The note line round-trips: what ReadNotes parses verifies.
	line, err := marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	parsed, kind, _ := parseLine(line)
	if kind != "" {
		t.Fatalf("note line does not parse: %s", line)
	}
	if err := v.Verify(ctx, parsed); err != nil {
		t.Fatalf("a good signature: %v", err)
	}

	forged := parsed
	forged.VersionID = "v9"
	if err := v.Verify(ctx, forged); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("an edited record: %v", err)
	}
	other := parsed
	other.Operator = "eve@example.com"
	if err := v.Verify(ctx, other); err == nil {
		t.Error("another operator's name on ada's signature verified")
	}
	if err := v.Verify(ctx, rec); err == nil || err.Error() != "unsigned" {
		t.Errorf("unsigned: %v", err)
	}
	// Eve's key is not in the allowed signers, whatever name she writes.
	gittest.Git(t, dir, "config", "user.signingkey", eveKey)
	eveSign, err := SignerFor(ctx, repo, "ssh")
	if err != nil {
		t.Fatal(err)
	}
	eve, err := Sign(ctx, rec, eveSign)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, eve); err == nil || !strings.Contains(err.Error(), "not signed by a key origin/main:.guard/allowed_signers allows for ada@example.com") {
		t.Errorf("eve's signature: %v", err)
	}
	// A signature for git commits is not one for the ledger.
	payload, _ := SignedPayload(rec)
	msg := filepath.Join(t.TempDir(), "m")
	os.WriteFile(msg, payload, 0o600)
	if out, err := exec.Command("ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", adaKey, msg).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	gitSig, _ := os.ReadFile(msg + ".sig")
	wrongNS := rec
	wrongNS.Signature = strings.TrimSpace(string(gitSig))
	if err := v.Verify(ctx, wrongNS); err == nil {
		t.Error("a signature in the git namespace verified")
	}

	// No allowed-signers file on the branch: a usage error.
	if _, err := VerifierFor(ctx, repo, "ssh", "refs/remotes/origin/main", "missing"); fail.KindOf(err) != fail.KindUsage {
		t.Errorf("missing allowed signers: %v", err)
	}
}
