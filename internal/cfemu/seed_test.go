package cfemu

import "testing"

func TestSeeding(t *testing.T) {
	e := New()
	v1, err := e.UploadVersion(acct, "w", map[string]string{"workers/tag": "c1"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := e.UploadVersion(acct, "w", map[string]string{"workers/tag": "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deploy(acct, "w", "two", DeploymentVersion{VersionID: v2, Percentage: 100}); err != nil {
		t.Fatal(err)
	}
	d3, err := e.Deploy(acct, "w", "back", DeploymentVersion{VersionID: v1, Percentage: 100})
	if err != nil {
		t.Fatal(err)
	}
	s := e.Snapshot().Accounts[acct].Scripts["w"]
	if len(s.Versions) != 2 || len(s.Deployments) != 3 {
		t.Fatalf("seeded %d versions, %d deployments", len(s.Versions), len(s.Deployments))
	}
	if s.Deployments[0].Annotations["workers/triggered_by"] != "upload" || s.Versions[1].Annotations["workers/triggered_by"] != "version_upload" {
		t.Fatalf("seeded annotations: %+v / %+v", s.Deployments[0].Annotations, s.Versions[1].Annotations)
	}
	if last := s.Deployments[2]; last.ID != d3 || last.Annotations["workers/triggered_by"] != "rollback" {
		t.Fatalf("rollback deployment = %+v", last)
	}
	if len(e.Requests()) != 0 {
		t.Fatal("seeding was logged as requests")
	}
	if _, err := e.Deploy(acct, "w", "", DeploymentVersion{VersionID: "nope", Percentage: 100}); err == nil {
		t.Fatal("deploy of unknown version accepted")
	}
	if _, err := e.Deploy(acct, "w", "", DeploymentVersion{VersionID: v1, Percentage: 50}); err == nil {
		t.Fatal("deploy at 50% accepted")
	}
	if _, err := e.Deploy(acct, "missing", "", DeploymentVersion{VersionID: v1, Percentage: 100}); err == nil {
		t.Fatal("deploy of unknown worker accepted")
	}
}
