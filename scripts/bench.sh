#!/usr/bin/env bash
# Measures guard's performance goals side by side with their baselines, in
# one run, so a noisy machine shifts both sides alike. Each benchmark runs
# COUNT times (default 5); the table shows the median of the runs.
#
#   ./scripts/bench.sh            # all goals
#   COUNT=9 ./scripts/bench.sh    # more runs on a noisy machine
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-5}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

run() { # package, bench regexp, benchtime
  go test -run '^$' -bench "$2" -benchtime "$3" -count "$count" "$1" | tee -a "$out" | grep -E '^(Benchmark|ok|FAIL)' >&2
}

echo "bench.sh: $count runs each; medians below" >&2
run ./hooks 'BenchmarkCommit$' 20x
run ./hooks 'BenchmarkPrePush100$' 10x
run ./migrations 'BenchmarkCheck500$' 3x
if ls deploy/*_test.go >/dev/null 2>&1 && grep -qs 'func BenchmarkCleanTree' deploy/*_test.go; then
  run ./deploy 'BenchmarkCleanTree' 10x
fi
if grep -qs 'func BenchmarkAroundWrangler' deploy/*_test.go; then
  run ./deploy 'BenchmarkAroundWrangler' 10x
fi
if grep -qs 'func BenchmarkRollbackToWrangler' rollback/*_test.go; then
  run ./rollback 'BenchmarkRollbackToWrangler' 10x
fi

# median ns/op per benchmark name
awk '/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); for (i=2;i<=NF;i++) if ($(i+1)=="ns/op") v[name]=v[name] " " $i }
     END { for (n in v) print n, v[n] }' "$out" |
while read -r name vals; do
  med=$(printf '%s\n' $vals | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%s %s\n' "$name" "$med"
done | sort > "$out.med"

ms() { awk -v n="$1" '$1==n {printf "%.1f", $2/1e6}' "$out.med"; }
row() { printf '%-44s %10s ms   %s\n' "$1" "$2" "$3"; }
echo
printf '%-44s %13s   %s\n' "measure" "median" "goal"
c0=$(ms BenchmarkCommit/no-hooks); c1=$(ms BenchmarkCommit/guard)
row "git commit, no hooks (10 staged files)" "$c0" ""
row "git commit, guard's hooks" "$c1" "at most 10 ms more: +$(awk -v a="$c1" -v b="$c0" 'BEGIN{printf "%.1f", a-b}') ms"
row "git rev-list of 100 new commits (13k files)" "$(ms BenchmarkPrePush100/git-rev-list)" ""
row "guard pre-push, 100 new commits (13k files)" "$(ms BenchmarkPrePush100/guard-pre-push)" "at most 100 ms"
row "migrations check, 500 migrations" "$(ms BenchmarkCheck500)" "at most 1000 ms"
if grep -q CleanTree "$out.med"; then
  g=$(awk '$1 ~ /CleanTree\/git-status/ {print $2}' "$out.med"); d=$(awk '$1 ~ /CleanTree\/guard/ {print $2}' "$out.med")
  row "git status --porcelain (13k files)" "$(awk -v x="$g" 'BEGIN{printf "%.1f", x/1e6}')" ""
  row "guard deploy clean-tree check (13k files)" "$(awk -v x="$d" 'BEGIN{printf "%.1f", x/1e6}')" "at most 1.5x git status: $(awk -v a="$d" -v b="$g" 'BEGIN{printf "%.2fx", a/b}')"
fi
grep -E 'AroundWrangler|RollbackToWrangler' "$out.med" | while read -r n v; do
  goal="at most 150 ms"; case "$n" in *Rollback*) goal="at most 300 ms";; esac
  row "${n#Benchmark}" "$(awk -v x="$v" 'BEGIN{printf "%.1f", x/1e6}')" "$goal"
done
rm -f "$out.med"
