package migrations

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real migration folders of testdata/d1 (see its PROVENANCE.md and the
// corpus NOTES.md). A source is a folder ending in "/" (every file directly
// in it) or one file; "file=>name" puts a file of another commit into the
// folder under its name in the repository.
type d1Scenario struct {
	name       string
	base, head []string
	nobase     bool
	digits     int
	want       string
}

func d1Files(t *testing.T, sources []string) []File {
	t.Helper()
	var out []File
	for _, s := range sources {
		src, name, renamed := strings.Cut(s, "=>")
		full := filepath.Join("testdata", "d1", filepath.FromSlash(src))
		if strings.HasSuffix(src, "/") {
			out = append(out, readFolder(t, full)...)
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		if !renamed {
			name = filepath.Base(full)
		}
		out = append(out, File{Path: dir + "/" + name, Content: data})
	}
	return out
}

const (
	wildebeest = "cloudflare__wildebeest/migrations/"
	moemail    = "beilunyang__moemail/drizzle/"
	vibesdk    = "cloudflare__vibesdk/migrations/"
	pr355      = "cloudflare__vibesdk/_variant_pr355/migrations/"
	bulletsGap = "mizchi__remix-d1-bullets/@72e8970_gap/migrations/"
	copany     = "Copanies__Copany/migrations/"
	inbox      = "13734315__email-temp-inbox/migrations/"
	pressscape = "shashwatkumar9__pressscape-d1-cloudflare/sql/migrations/"
	saasHead   = "cloudflare__templates/saas-admin-template/migrations/"
	saasOld    = "cloudflare__templates/saas-admin-template@d6c48a2/migrations/"
)

func upTo(folder string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, folder+n)
	}
	return out
}

var wildebeestTo7 = upTo(wildebeest,
	"0000_initial.sql", "0001_add-unique-following.sql", "0002_add-target-outbox_objects.sql",
	"0003_add_peers.sql", "0004_add_outbox_objects_indices.sql", "0005_add_idempotency_keys.sql",
	"0006_add_note_hashtags.sql", "0007_change_subscriptions_id.sql")

var moemailTo13 = upTo(moemail,
	"0000_hard_nick_fury.sql", "0001_tiresome_squadron_supreme.sql", "0002_military_cobalt_man.sql",
	"0003_dashing_dust.sql", "0004_panoramic_hedge_knight.sql", "0005_tricky_mathemanic.sql",
	"0006_thick_lester.sql", "0007_careless_sentinel.sql", "0008_cute_dormammu.sql",
	"0009_overconfident_gateway.sql", "0010_brief_stellaris.sql", "0011_simple_vulcan.sql",
	"0012_steady_nitro.sql", "0013_illegal_senator_kelly.sql")

var moemailTo16 = append(append([]string(nil), moemailTo13...), upTo(moemail,
	"0014_jazzy_gressill.sql", "0015_majestic_chimera.sql", "0016_hesitant_thing.sql")...)

var moemailTo17 = append(append([]string(nil), moemailTo16...), moemail+"0017_superb_calypso.sql")

var d1Scenarios = []d1Scenario{
	{name: "wildebeest/whole-folder-new", nobase: true, head: []string{wildebeest}, want: `
# FTS5 triggers with semicolons inside BEGIN ... END, PRAGMA, TAB headers: no noise.
# 0001 adds a UNIQUE index to actor_following, which already existed.
unique-on-existing warning 0001_add-unique-following.sql:3 ~ unique index unique_actor_following on existing table actor_following (actor_id, target_actor_id)
# 0007 drops subscriptions (lower-case "table") and re-creates it without copying a row.
drop-table error 0007_change_subscriptions_id.sql:3 ~ re-created on line 5 but no rows are copied
`},
	{name: "wildebeest/0000-edited-after-it-was-applied",
		base: []string{"cloudflare__wildebeest/_history/0000_initial@25be15b_original.sql=>0000_initial.sql"},
		head: []string{wildebeest + "0000_initial.sql"}, want: `
edited error 0000_initial.sql:142 ~ 0000_initial.sql is on base and was changed
`},
	{name: "wildebeest/0003-quickfix-edit",
		base: append(upTo(wildebeest, "0000_initial.sql", "0001_add-unique-following.sql", "0002_add-target-outbox_objects.sql"),
			"cloudflare__wildebeest/_history/0003_add_peers@39e76bf_before_quickfix.sql=>0003_add_peers.sql"),
		head: upTo(wildebeest, "0000_initial.sql", "0001_add-unique-following.sql", "0002_add-target-outbox_objects.sql", "0003_add_peers.sql"),
		want: `
edited error 0003_add_peers.sql:4
`},
	{name: "wildebeest/second-0008-after-rebase",
		base: append(append([]string(nil), wildebeestTo7...), "cloudflare__wildebeest/_history/0008_add_relays.sql"),
		head: append(append([]string(nil), wildebeestTo7...), "cloudflare__wildebeest/_history/0008_add_relays.sql", wildebeest+"0008_add_server-settings.sql"),
		want: `
duplicate-number error 0008_add_server-settings.sql:0 ~ also used by 0008_add_relays.sql
out-of-order error 0008_add_server-settings.sql:0 ~ base already has 0008_add_relays.sql
`},
	{name: "wildebeest/0010-unbounded-updates",
		base: append(append([]string(nil), wildebeestTo7...), wildebeest+"0008_add_server-settings.sql", wildebeest+"0009_add_admin.sql"),
		head: append(append([]string(nil), wildebeestTo7...), wildebeest+"0008_add_server-settings.sql", wildebeest+"0009_add_admin.sql",
			"cloudflare__wildebeest/_history/0010_update_actor_properties.sql"),
		want: `
unbounded-dml warning 0010_update_actor_properties.sql:3
unbounded-dml warning 0010_update_actor_properties.sql:4
unbounded-dml warning 0010_update_actor_properties.sql:5
unbounded-dml warning 0010_update_actor_properties.sql:6
`},
	{name: "moemail/whole-folder-new", nobase: true, head: []string{moemail}, want: `
drop-table error 0002_military_cobalt_man.sql:1 ~ table verificationToken is dropped
drop-table error 0005_tricky_mathemanic.sql:1 ~ table permission is dropped
drop-table error 0005_tricky_mathemanic.sql:2 ~ table role_permission is dropped
drop-table error 0007_careless_sentinel.sql:1 ~ table credential is dropped
# user_username_unique is on a column added in the same file without a default: all NULL, safe.
drop-table error 0008_cute_dormammu.sql:1 ~ table session is dropped
unique-on-existing warning 0010_brief_stellaris.sql:1 ~ api_keys_name_unique
drop-column error 0010_brief_stellaris.sql:2 ~ column api_keys.last_used_at is dropped
# 0011 widens the unique (name) to (name, user_id): covered, only the drop of the old index remains.
drop-index warning 0011_simple_vulcan.sql:1 ~ index api_keys_name_unique
# 0013 is drizzle's rebuild of message. On D1 the PRAGMA changes nothing. The copy names three
# columns the old message table never had ("to_address", "type", "sent_at"): SQLite reads them as
# string literals, so every existing message got to_address = 'to_address' and so on. That also
# fills the new NOT NULL sent_at, so not-null-no-default is not raised (the rows do get a value).
pragma-no-effect warning 0013_illegal_senator_kelly.sql:1 ~ PRAGMA foreign_keys = OFF has no effect on D1
dqs-literal error 0013_illegal_senator_kelly.sql:16 ~ "sent_at" is not a column
dqs-literal error 0013_illegal_senator_kelly.sql:16 ~ "to_address" is not a column
dqs-literal error 0013_illegal_senator_kelly.sql:16 ~ "type" is not a column
drop-column error 0016_hesitant_thing.sql:1 ~ column email_share.enabled
drop-column error 0016_hesitant_thing.sql:2 ~ column message_share.enabled
`},
	{name: "moemail/0018-rebuild-kept-only-in-a-block-comment",
		base: moemailTo17,
		head: append(append([]string(nil), moemailTo17...), "beilunyang__moemail/_history/0018_milky_havok@3b506c2_drop_in_block_comment.sql=>0018_milky_havok.sql"),
		want: ``},
	// The original 0018 rebuilt user keeping every column, but on D1 (foreign keys always on) DROP
	// TABLE user fails while api_keys rows reference users: the file was later rewritten as ADD COLUMN.
	{name: "moemail/0018-original-rebuild-fails-on-d1",
		base: moemailTo17,
		head: append(append([]string(nil), moemailTo17...), "beilunyang__moemail/_history/0018_milky_havok@7b37606_original_rebuild.sql=>0018_milky_havok.sql"),
		want: `
fk-violation error 0018_milky_havok.sql:14 ~ FOREIGN KEY constraint failed once the tables hold rows
`},
	{name: "moemail/0017-reverted-after-merge",
		base: append(append([]string(nil), moemailTo16...), "beilunyang__moemail/_history/0017_handy_lionheart@3739159_reverted.sql=>0017_handy_lionheart.sql"),
		head: moemailTo17,
		want: `
out-of-order error 0017_superb_calypso.sql:0 ~ base already has 0017_handy_lionheart.sql
removed error 0017_handy_lionheart.sql:0 ~ was deleted
`},
	{name: "moemail/two-0014-files",
		base: append(append([]string(nil), moemailTo13...), "beilunyang__moemail/_history/0014_wandering_wild_child@dd0f357.sql=>0014_wandering_wild_child.sql"),
		head: append(append([]string(nil), moemailTo13...), moemail+"0014_jazzy_gressill.sql"),
		want: `
out-of-order error 0014_jazzy_gressill.sql:0
removed error 0014_wandering_wild_child.sql:0
`},
	{name: "vibesdk/whole-folder-new", nobase: true, head: []string{vibesdk}, want: `
drop-column error 0001_married_moondragon.sql:1 ~ column apps.blueprint is dropped
drop-column error 0002_nebulous_fantastic_four.sql:22 ~ column apps.deployment_url is dropped
# 0004 drops user_secrets while user_model_providers.secret_id still references it: on D1 the
# drop fails once a provider row points at a secret. The rebuild that follows keeps every column.
fk-violation error 0004_calm_omega_flight.sql:1 ~ rows of user_model_providers reference the rows this statement deletes
pragma-no-effect warning 0004_calm_omega_flight.sql:2 ~ PRAGMA foreign_keys = OFF
duplicate-number error 0006_gigantic_shinko_yamashiro.sql:0 ~ also used by 0006_puzzling_bloodstrike.sql
duplicate-number error 0006_puzzling_bloodstrike.sql:0 ~ also used by 0006_gigantic_shinko_yamashiro.sql
`},
	{name: "vibesdk/late-0006-after-0007",
		base: upTo(vibesdk, "0000_living_forge.sql", "0001_married_moondragon.sql", "0002_nebulous_fantastic_four.sql",
			"0003_bumpy_albert_cleary.sql", "0004_calm_omega_flight.sql", "0005_cloudflare_oauth_connect.sql",
			"0006_gigantic_shinko_yamashiro.sql", "0007_violet_nebula.sql"),
		head: []string{vibesdk}, want: `
duplicate-number error 0006_puzzling_bloodstrike.sql:0
out-of-order error 0006_puzzling_bloodstrike.sql:0 ~ base already has 0007_violet_nebula.sql
`},
	{name: "vibesdk/pr355-gap-and-rename", nobase: true, head: []string{pr355}, want: `
drop-column error 0001_married_moondragon.sql:1
drop-column error 0002_nebulous_fantastic_four.sql:22
fk-violation error 0004_calm_omega_flight.sql:1
pragma-no-effect warning 0004_calm_omega_flight.sql:2
gap error 0010_concurrent_coder.sql:0 ~ numbers 0005 to 0009 are missing
rename-table error 0011_rename_cc_to_coder_sessions.sql:2 ~ table cc_sessions is renamed to coder_sessions
`},
	{name: "vibesdk/pr355-rename-pushed-alone",
		base: upTo(pr355, "0000_living_forge.sql", "0001_married_moondragon.sql", "0002_nebulous_fantastic_four.sql",
			"0003_bumpy_albert_cleary.sql", "0004_calm_omega_flight.sql", "0010_concurrent_coder.sql"),
		head: []string{pr355}, want: `
rename-table error 0011_rename_cc_to_coder_sessions.sql:2
`},
	{name: "remix-d1-bullets/gap", nobase: true, head: []string{bulletsGap}, want: `
gap error 0002_wet_mauler.sql:0 ~ number 0001 is missing
not-null-no-default error 0002_wet_mauler.sql:11 ~ column users.googleProfileId
not-null-no-default error 0002_wet_mauler.sql:14 ~ column users.registeredAt
unique-on-existing warning 0004_chief_miracleman.sql:1 ~ tagIdPostIdIdx
unique-on-existing warning 0004_chief_miracleman.sql:2 ~ postIdIdx
unique-on-existing warning 0004_chief_miracleman.sql:3 ~ tagIdIdx
rename-column error 0005_mushy_quicksilver.sql:1 ~ column users.name is renamed to displayName
`},
	{name: "remix-d1-bullets/squash-of-applied-history",
		base: []string{bulletsGap}, head: []string{"mizchi__remix-d1-bullets/@HEAD_after_squash/migrations/"}, want: `
out-of-order error 0000_conscious_ironclad.sql:0
removed error 0000_acoustic_doorman.sql:0
removed error 0002_wet_mauler.sql:0
removed error 0003_curly_shadow_king.sql:0
removed error 0004_chief_miracleman.sql:0
removed error 0005_mushy_quicksilver.sql:0
`},
	{name: "copany/table-created-outside-the-folder", nobase: true, head: []string{copany}, want: `
# The replay goes on (best effort): the later files are checked, and have nothing to report.
apply-failed error 0001_change_copany_created_by_type.sql:19 ~ no such table: Copany; 1 later statement(s) of this file also fail
`},
	{name: "copany/manual-rebuilds-keep-every-column",
		base: []string{"synthetic/Copanies__Copany/0000_copany_before.sql"},
		head: append([]string{"synthetic/Copanies__Copany/0000_copany_before.sql"}, copany), want: ``},
	{name: "email-temp-inbox/INIT_ALL", nobase: true, head: []string{inbox}, want: `
apply-failed error INIT_ALL.sql:19 ~ duplicate column name: html_content
stray-file warning INIT_ALL.sql:0 ~ INIT_ALL.sql is not a numbered migration
`},
	{name: "pressscape/postgres-with-3-digits", nobase: true, head: []string{pressscape}, want: `
# Every file is PostgreSQL: each one fails on its own, reported once per file.
naming error 001_payment_gateways.sql:0 ~ 3-digit number
apply-failed error 001_payment_gateways.sql:8 ~ no such table: orders
naming error 002_messaging_system.sql:0
apply-failed error 002_messaging_system.sql:8 ~ syntax error
naming error 003_website_verification.sql:0
apply-failed error 003_website_verification.sql:8 ~ no such table: websites
duplicate-number error 004_api_keys.sql:0 ~ also used by 004_link_verification.sql
naming error 004_api_keys.sql:0
apply-failed error 004_api_keys.sql:5 ~ syntax error
duplicate-number error 004_link_verification.sql:0
naming error 004_link_verification.sql:0
apply-failed error 004_link_verification.sql:4 ~ no such table: orders
naming error 005_payouts.sql:0
apply-failed error 005_payouts.sql:2 ~ syntax error
naming error 006_website_contributors.sql:0
apply-failed error 006_website_contributors.sql:6 ~ syntax error
naming error 007_buyer_dashboard.sql:0
apply-failed error 007_buyer_dashboard.sql:7 ~ syntax error
naming error 008_disputes.sql:0
apply-failed error 008_disputes.sql:8 ~ no such table: orders
`},
	{name: "pressscape/digits-3", nobase: true, digits: 3, head: []string{pressscape}, want: `
apply-failed error 001_payment_gateways.sql:8 ~ no such table: orders
apply-failed error 002_messaging_system.sql:8 ~ syntax error
apply-failed error 003_website_verification.sql:8 ~ no such table: websites
duplicate-number error 004_api_keys.sql:0
apply-failed error 004_api_keys.sql:5 ~ syntax error
duplicate-number error 004_link_verification.sql:0
apply-failed error 004_link_verification.sql:4 ~ no such table: orders
apply-failed error 005_payouts.sql:2 ~ syntax error
apply-failed error 006_website_contributors.sql:6 ~ syntax error
apply-failed error 007_buyer_dashboard.sql:7 ~ syntax error
apply-failed error 008_disputes.sql:8 ~ no such table: orders
`},
	// "DROP TABLE IF EXISTS x" before each CREATE: nothing here, but a notice each, since a
	// production database that holds x (created outside the folder) loses it.
	{name: "saas-admin/initial-drop-if-exists-pattern", nobase: true, head: []string{saasHead}, want: `
drop-table notice 0001_create_customers.sql:2 ~ DROP TABLE IF EXISTS customers
drop-table notice 0002_create_subscriptions.sql:2 ~ DROP TABLE IF EXISTS subscriptions
drop-table notice 0002_create_subscriptions.sql:3 ~ DROP TABLE IF EXISTS subscription_features
drop-table notice 0002_create_subscriptions.sql:4 ~ DROP TABLE IF EXISTS features
drop-table notice 0003_create_user_subscriptions.sql:2 ~ DROP TABLE IF EXISTS customer_subscriptions
`},
	{name: "saas-admin/applied-migrations-deleted", base: []string{saasOld}, head: []string{saasHead}, want: `
removed error 0004_create_auth_tables.sql:0
removed error 0005_create_apikey_tables.sql:0
`},
	{name: "templates/others-are-clean", nobase: true, head: []string{
		"cloudflare__templates/newsletter-template/migrations/",
	}, want: ``},
	{name: "not-d1/postgres", nobase: true, head: []string{"_not_d1/2026March7th__Cloudreve-Worker/migrations/"}, want: `
apply-failed error 0004_node_settings.sql:9 ~ near "EXISTS": syntax error
gap error 0004_node_settings.sql:0 ~ numbering starts at 0004
`},
}

func TestD1Corpus(t *testing.T) {
	for _, sc := range d1Scenarios {
		t.Run(sc.name, func(t *testing.T) {
			compare(t, scenarioFindings(t, sc), parseWants(t, sc.want))
		})
	}
}

// The small templates each create a fresh schema: nothing to report.
func TestD1TemplatesClean(t *testing.T) {
	for _, tpl := range []string{"astro-blog-starter-template", "chanfana-openapi-template", "d1-template", "openauth-template"} {
		in := Input{Dir: dir, Head: d1Files(t, []string{"cloudflare__templates/" + tpl + "/migrations/"})}
		got, err := Check(context.Background(), in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("%s: unexpected findings:\n%s", tpl, format(got))
		}
	}
}
