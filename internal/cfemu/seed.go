package cfemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Seeding: Go calls that change the state exactly as the API handlers do,
// without HTTP, so that a test can prepare a worker's history without running
// wrangler and without adding to the request log (tests assert on it).

// UploadVersion uploads a version of script with the given annotations
// (e.g. "workers/tag", "workers/message"). For a worker that does not exist
// yet it behaves like wrangler's first deploy (PUT): the worker is created and
// the version deployed at 100%. For an existing worker it behaves like
// POST /versions: the version is uploaded, not deployed.
func (e *Emulator) UploadVersion(account, script string, annotations map[string]string) (versionID string, err error) {
	if account == "" || script == "" {
		return "", fmt.Errorf("upload version: account and script are required")
	}
	ann := map[string]any{}
	for k, v := range annotations {
		ann[k] = v
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	content := fmt.Sprintf("// seeded %s version %d\n", script, e.st.accounts[account].versionCount(script)+1)
	sum := sha256.Sum256([]byte(content))
	up := &upload{
		meta:    uploadMetadata{MainModule: "index.js", Annotations: ann},
		modules: map[string]string{"index.js": hex.EncodeToString(sum[:])},
		etag:    hex.EncodeToString(sum[:]),
	}
	if s := e.st.script(account, script); s != nil {
		return e.newVersionLocked("api", s, up, "version_upload").ID, nil
	}
	_, v := e.putScriptLocked(account, script, up, "api")
	return v.ID, nil
}

// Deploy records a deployment of existing versions (percentages summing to
// 100) with an optional workers/message, like POST /deployments.
func (e *Emulator) Deploy(account, script, message string, versions ...DeploymentVersion) (deploymentID string, err error) {
	if err := validateSplit("percentage", versions); err != nil {
		return "", fmt.Errorf("deploy %s: %w", script, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.script(account, script)
	if s == nil {
		return "", fmt.Errorf("deploy %s: worker does not exist", script)
	}
	d, _, err := e.deployLocked(s, versions, message, "api")
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", script, err)
	}
	return d.ID, nil
}

// versionCount is the number of versions of a script (0 when the account
// or script is unknown).
func (a *Account) versionCount(script string) int {
	if a == nil || a.Scripts[script] == nil {
		return 0
	}
	return len(a.Scripts[script].Versions)
}
