package policy

import (
	"encoding/json"
	"testing"
)

func TestParseCategory(t *testing.T) {
	for in, want := range map[string]Category{
		"standard": Standard, "Normal": Normal, " MAJOR\t": Major, "emergency\n": Emergency,
	} {
		got, err := ParseCategory(in)
		if err != nil || got != want {
			t.Errorf("ParseCategory(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != [...]string{"", "standard", "normal", "major", "emergency"}[want] {
			t.Errorf("String() = %q", got.String())
		}
	}
	for _, in := range []string{"", "unknown", "minor", "std", "normal!", "nor mal"} {
		if c, err := ParseCategory(in); err == nil || c != Unknown {
			t.Errorf("ParseCategory(%q) = %v, %v; want an error", in, c, err)
		}
	}
	_, err := ParseCategory("Minor")
	if err == nil || err.Error() != `unknown change category "Minor" (want standard, normal, major or emergency)` {
		t.Errorf("error text: %v", err)
	}
	if Unknown.String() != "unknown" || Category(9).String() != "category(9)" {
		t.Errorf("String of odd values: %q %q", Unknown, Category(9))
	}
}

func TestCategoryText(t *testing.T) {
	b, err := json.Marshal(map[string]Category{"c": Major})
	if err != nil || string(b) != `{"c":"major"}` {
		t.Errorf("marshal: %s %v", b, err)
	}
	var m map[string]Category
	if err := json.Unmarshal([]byte(`{"c":"Emergency"}`), &m); err != nil || m["c"] != Emergency {
		t.Errorf("unmarshal: %v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"c":"minor"}`), &m); err == nil {
		t.Error("unmarshal of an invalid category succeeded")
	}
	if _, err := json.Marshal(Unknown); err == nil {
		t.Error("marshal of Unknown succeeded")
	}
}

func TestUnderstates(t *testing.T) {
	all := []Category{Unknown, Standard, Normal, Major, Emergency}
	want := map[[2]Category]bool{
		{Standard, Normal}: true, {Standard, Major}: true, {Normal, Major}: true,
		{Unknown, Standard}: true, {Unknown, Normal}: true, {Unknown, Major}: true,
	}
	for _, explicit := range all {
		for _, inferred := range all {
			if got := Understates(explicit, inferred); got != want[[2]Category{explicit, inferred}] {
				t.Errorf("Understates(%v, %v) = %v", explicit, inferred, got)
			}
		}
	}
}
