package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
)

// Signing of shared records ([ledger] signing = "ssh"), as git signs
// commits with gpg.format=ssh: `ssh-keygen -Y sign` with the deployer's key
// (git's user.signingKey) over the record's canonical JSON without its
// signature, in the SignatureNamespace; checked with `ssh-keygen -Y verify`
// against an allowed-signers file tracked in the repository and read from
// the remote branch, with the record's operator as the signer's identity.
// A record that is unsigned or badly signed is ignored, with a warning: a
// pusher can write any note, but not one that a teammate's key signed.

// SignatureNamespace is the ssh-keygen namespace of guard's signatures; a
// signature made for git commits ("git") does not verify here.
const SignatureNamespace = "guard-ledger"

// Signer signs a record's payload and returns the armored signature.
type Signer func(ctx context.Context, payload []byte) (string, error)

// SignedPayload is what a record's signature covers: the record as one
// JSON line, without its signature.
func SignedPayload(rec Record) ([]byte, error) {
	rec.Signature = ""
	return marshal(rec)
}

// Sign returns rec with its signature set by sign (rec itself when sign is
// nil: signing is off).
func Sign(ctx context.Context, rec Record, sign Signer) (Record, error) {
	if sign == nil {
		return rec, nil
	}
	payload, err := SignedPayload(rec)
	if err != nil {
		return rec, err
	}
	sig, err := sign(ctx, payload)
	if err != nil {
		return rec, err
	}
	rec.Signature = sig
	return rec, nil
}

// SSHSigner signs with git's user.signingKey: a private key file, a public
// key file whose private half is in ssh-agent, or a "key::<public key>"
// literal (ssh-agent). Without a key it is a usage error: signing is
// required by the configuration and must not be skipped silently.
func SSHSigner(ctx context.Context, repo *gitx.Repo) (Signer, error) {
	key, ok, err := repo.ConfigValue(ctx, "user.signingkey")
	if err != nil {
		return nil, err
	}
	if !ok || strings.TrimSpace(key) == "" {
		return nil, fail.Usage(errors.New(`[ledger] signing = "ssh" but git's user.signingKey is not set: the deploy record could not be signed`),
			"git config user.signingKey ~/.ssh/id_ed25519.pub (the key your teammates list in the allowed-signers file)")
	}
	key = strings.TrimSpace(key)
	return func(ctx context.Context, payload []byte) (string, error) {
		dir, err := os.MkdirTemp("", "guard-sign-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		keyFile := key
		if lit, ok := strings.CutPrefix(key, "key::"); ok {
			keyFile = filepath.Join(dir, "key.pub")
			if err := os.WriteFile(keyFile, []byte(lit+"\n"), 0o600); err != nil {
				return "", err
			}
		} else if strings.HasPrefix(keyFile, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				keyFile = filepath.Join(home, keyFile[2:])
			}
		}
		msg := filepath.Join(dir, "record.json")
		if err := os.WriteFile(msg, payload, 0o600); err != nil {
			return "", err
		}
		if _, err := proc.Run(ctx, proc.Cmd{Name: "ssh-keygen", Args: []string{"-q", "-Y", "sign", "-n", SignatureNamespace, "-f", keyFile, msg}, Stdin: strings.NewReader("")}); err != nil {
			return "", fmt.Errorf("signing the deploy record with %s: %w", keyFile, err)
		}
		sig, err := os.ReadFile(msg + ".sig")
		if err != nil {
			return "", fmt.Errorf("signing the deploy record: %w", err)
		}
		return string(bytes.TrimSpace(sig)), nil
	}, nil
}

// Verifier checks shared records' signatures against one allowed-signers
// file.
type Verifier struct {
	// Source names the allowed-signers file for messages
	// ("origin/main:.guard/allowed_signers").
	Source  string
	allowed []byte
}

// NewVerifier reads the allowed-signers file at path in rev (the remote
// branch: the file as the team reviewed it, not as this clone has it). A
// missing file is a usage error: with signing on, nothing could verify.
func NewVerifier(ctx context.Context, repo *gitx.Repo, rev, path string) (*Verifier, error) {
	name := strings.TrimPrefix(strings.TrimPrefix(rev, "refs/remotes/"), "refs/heads/") + ":" + path
	data, ok, err := repo.Blob(ctx, rev, path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail.Usage(fmt.Errorf(`[ledger] signing = "ssh" but %s does not exist: no shared deploy record can be verified`, name),
			"commit the allowed-signers file (one line per teammate: <email> <ssh public key>) and merge it")
	}
	return &Verifier{Source: name, allowed: data}, nil
}

// Verify checks that rec carries a signature in SignatureNamespace by the
// key the allowed-signers file lists for rec.Operator.
func (v *Verifier) Verify(ctx context.Context, rec Record) error {
	if rec.Signature == "" {
		return errors.New("unsigned")
	}
	if rec.Operator == "" {
		return errors.New("signed, but names no operator to check the key against")
	}
	payload, err := SignedPayload(rec)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "guard-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	allowed, sig := filepath.Join(dir, "allowed_signers"), filepath.Join(dir, "record.sig")
	if err := os.WriteFile(allowed, v.allowed, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(sig, []byte(rec.Signature+"\n"), 0o600); err != nil {
		return err
	}
	_, err = proc.Run(ctx, proc.Cmd{Name: "ssh-keygen", Args: []string{"-Y", "verify", "-f", allowed, "-I", rec.Operator, "-n", SignatureNamespace, "-s", sig},
		Stdin: bytes.NewReader(payload)})
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("bad signature: not signed by a key %s allows for %s", v.Source, rec.Operator)
		}
		return err
	}
	return nil
}

// SignerFor returns the signer the [ledger] signing mode asks for: nil for
// "off", SSHSigner for "ssh".
func SignerFor(ctx context.Context, repo *gitx.Repo, mode string) (Signer, error) {
	switch mode {
	case "", "off":
		return nil, nil
	case "ssh":
		return SSHSigner(ctx, repo)
	}
	return nil, fail.Usage(fmt.Errorf("[ledger] signing %q is not \"off\" or \"ssh\"", mode))
}

// VerifierFor returns the verifier the [ledger] signing mode asks for: nil
// for "off"; for "ssh", one reading the allowed-signers file at path in
// the remote branch ref.
func VerifierFor(ctx context.Context, repo *gitx.Repo, mode, ref, path string) (*Verifier, error) {
	if mode == "" || mode == "off" {
		return nil, nil
	}
	return NewVerifier(ctx, repo, ref, path)
}

// verifyParallel bounds how many ssh-keygen processes VerifyAll runs at
// once: each is short and mostly waits, so a rollback reading a long
// history does not pay for them one after another.
const verifyParallel = 8

// VerifyAll verifies recs concurrently; errs[i] is Verify's answer for
// recs[i].
func (v *Verifier) VerifyAll(ctx context.Context, recs []Record) []error {
	errs := make([]error, len(recs))
	sem := make(chan struct{}, verifyParallel)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = v.Verify(ctx, recs[i])
		}(i)
	}
	wg.Wait()
	return errs
}
