#!/usr/bin/env bash
# Measures guard's performance goals side by side with their baselines, in
# one run, so a noisy machine shifts both sides alike. Each benchmark runs
# COUNT times (default 5); the table shows the median of the runs.
#
#   ./scripts/bench.sh            # every goal
#   COUNT=9 ./scripts/bench.sh    # more runs on a noisy machine
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-5}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

failed=""
run() { # package, benchmark regexp, benchtime
  local one
  one="$(mktemp)"
  if go test -run '^$' -bench "$2" -benchtime "$3" -count "$count" "$1" >"$one" 2>&1; then
    grep -E '^Benchmark' "$one" >&2 || true
  else
    # A benchmark that fails must not leave a "nan" row that looks measured.
    cat "$one" >&2
    failed="$failed $1:$2"
  fi
  cat "$one" >>"$out"
  rm -f "$one"
}

echo "bench.sh: $count runs of each benchmark; the table shows medians" >&2
run ./hooks 'BenchmarkCommit$' 60x
run ./hooks 'BenchmarkPrePush100$' 10x
run ./migrations 'BenchmarkCheck500' 3x
# The schema-size goal: one run each (SQLite alone takes about 20 s on the
# 10,000 tables), guard next to SQLite alone on the same files.
count=1 run ./migrations 'BenchmarkTables' 1x
run ./deploy 'BenchmarkCleanTree$' 10x
run ./deploy 'BenchmarkDeployOverhead$' 10x
run ./deploy 'BenchmarkPristineDeploy$' 3x
run ./cmd/guard 'BenchmarkRollbackToWrangler$' 20x
run ./deploy 'BenchmarkRolloutStep$' 20x

# metric NAME UNIT: the median, over the runs, of the value reported in UNIT.
metric() {
  awk -v n="$1" -v u="$2" '$1 ~ "^"n"(-[0-9]+)?$" { for (i=2;i<NF;i++) if ($(i+1)==u) print $i }' "$out" |
    sort -g | awk '{a[NR]=$1} END { if (NR) print a[int((NR+1)/2)]; else print "nan" }'
}
ms() { awk -v x="$(metric "$1" ns/op)" 'BEGIN { printf "%.1f", x/1e6 }'; }
row() { printf '%-50s %9s   %s\n' "$1" "$2" "$3"; }

echo
printf '%-50s %9s   %s\n' "measure (median)" "ms" "goal"
row "git commit of 10 staged files, no hooks" "$(metric BenchmarkCommit no-hooks-ms)" ""
row "git commit of 10 staged files, guard's hooks" "$(metric BenchmarkCommit guard-ms)" "<= 10 ms more: +$(metric BenchmarkCommit added-ms) ms (interleaved)"
row "git rev-list, 100 new commits, 13k files" "$(ms BenchmarkPrePush100/git-rev-list)" ""
row "guard pre-push, 100 new commits, 13k files" "$(ms BenchmarkPrePush100/guard-pre-push)" "<= 100 ms"
row "guard migrations check, 500 migrations (all new)" "$(ms BenchmarkCheck500)" "<= 1000 ms"
row "guard migrations check, 500 migrations (1 new)" "$(ms BenchmarkCheck500OneNew)" ""
r=$(ms BenchmarkCheck500); e=$(ms BenchmarkCheck500SchemaOnly)
row "guard migrations check, 500 migrations, empty tables" "$e" "rows <= 2x empty: $(awk -v a="$r" -v b="$e" 'BEGIN{printf "%.2fx", a/b}')"
for n in 2000 10000; do
  q=$(ms "BenchmarkTables/$n/sqlite-only"); g=$(ms "BenchmarkTables/$n/rows"); z=$(ms "BenchmarkTables/$n/schema-only")
  row "SQLite alone, $n tables (one file per 10)" "$q" ""
  row "guard, $n tables, empty tables" "$z" ""
  goal=""
  [ "$n" = 10000 ] && goal="<= 10000 ms; "
  row "guard, $n tables, with rows" "$g" "${goal}$(awk -v a="$g" -v b="$q" 'BEGIN{printf "%.2fx SQLite alone", a/b}')"
done
g=$(ms BenchmarkCleanTree/git-status-porcelain); d=$(ms BenchmarkCleanTree/guard-check-tree)
row "git status --porcelain, 13k files" "$g" ""
row "guard deploy clean-tree check, 13k files" "$d" "<= 1.5x git status: $(awk -v a="$d" -v b="$g" 'BEGIN{printf "%.2fx", a/b}')"
row "guard deploy, own time around wrangler (no fetch)" "$(metric BenchmarkDeployOverhead/no-fetch guard-ms/op)" "<= 150 ms"
row "guard deploy, own time around wrangler (fetch)" "$(metric BenchmarkDeployOverhead/fetch guard-ms/op)" "<= 150 ms"
row "wrangler deploy alone (real wrangler, emulator)" "$(ms BenchmarkPristineDeploy/wrangler-alone)" ""
row "  guard deploy's wrangler, pristine checkout" "$(metric BenchmarkPristineDeploy/guard-deploy wrangler-ms/op)" ""
row "  guard's own time around it, warm dep. cache" "$(metric BenchmarkPristineDeploy/guard-deploy guard-ms/op)" "<= 1000 ms"
row "guard rollback, command to wrangler's start" "$(metric BenchmarkRollbackToWrangler ms-to-wrangler/op)" "<= 300 ms"
row "gradual deploy, wrangler's API call per step (stand-in)" "$(metric BenchmarkRolloutStep wrangler-stand-in-ms/step)" ""
row "gradual deploy, guard's own time per step" "$(metric BenchmarkRolloutStep guard-ms/step)" "<= 200 ms"
if [ -n "$failed" ]; then
  echo "bench.sh: these benchmarks failed, their rows are not measurements:$failed" >&2
  exit 1
fi
