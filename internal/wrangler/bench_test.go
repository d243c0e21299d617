package wrangler

import (
	"context"
	"testing"
)

// BenchmarkRunnerOverhead measures what Runner adds around a process:
// temporary directory, environment, pipes, token scrubbing, reading and
// parsing the output file. The process is /bin/sh writing the "deploy"
// record wrangler writes, so the number is guard's cost, not wrangler's
// (see BenchmarkDeploy for the real thing).
func BenchmarkRunnerOverhead(b *testing.B) {
	r := &Runner{
		Command: []string{"/bin/sh", "-c", `printf '%s\n' '{"type":"deploy","version":1,"worker_name":"w","worker_tag":"t","version_id":"00000000-0000-0000-0000-000000000001","targets":[]}' > "$WRANGLER_OUTPUT_FILE_PATH"; echo "Current Version ID: 00000000-0000-0000-0000-000000000001"`, "sh"},
		Env:     []string{"CLOUDFLARE_API_TOKEN=SENTINEL-TOKEN-5f1e"},
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		d, err := r.Deploy(ctx, DeployArgs{Message: "m", Tag: "t"})
		if err != nil || d.VersionID != "00000000-0000-0000-0000-000000000001" {
			b.Fatalf("%+v %v", d, err)
		}
	}
}
