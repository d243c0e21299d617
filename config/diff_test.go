package config

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	base := Defaults()
	same, err := Parse("guard.toml", []byte("# only a comment\nremote = \"origin\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(base, same); len(d) != 0 {
		t.Errorf("a guard.toml that restates defaults changes nothing, got %v", d)
	}
	head, err := Parse("guard.toml", []byte("[categories]\nstandard = [\"**\"]\n[migrations.severity]\ndrop-index = \"off\"\n[ledger]\nsigning = \"ssh\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Diff(base, head) {
		got = append(got, c.String())
	}
	want := []string{
		`categories.standard: ["**/*.md","docs/**","LICENSE*"] → ["**"]`,
		`ledger.signing: "off" → "ssh"`,
		`migrations.severity.drop-index: (unset) → "off"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, want)
	}
}

func TestLedgerSigningValidated(t *testing.T) {
	_, err := Parse("guard.toml", []byte("[ledger]\nsigning = \"gpg\"\n"))
	if err == nil || err.Error() != `guard.toml:2:1: ledger.signing: must be "off" or "ssh", not "gpg"` {
		t.Errorf("err = %v", err)
	}
	_, err = Parse("guard.toml", []byte("[ledger]\nsigning = \"ssh\"\nallowed_signers = \"\"\n"))
	if err == nil || err.Error() != `guard.toml:3:1: ledger.allowed_signers: must name the tracked allowed-signers file when signing is "ssh"` {
		t.Errorf("err = %v", err)
	}
}
