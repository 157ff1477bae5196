#!/usr/bin/env bash
# expect.sh CODE REGEX CMD...: runs CMD, checks its exit code and that its
# combined output matches REGEX; for errors, that stderr has one line and,
# when CMD names an output folder (--out DIR), that the refused command left
# no DIR behind (bad input is refused before anything is written). A DIR
# under a refused/ folder is the test's own and is removed first.
set -u
want=$1; pattern=$2; shift 2
out_dir=""
prev=""
for a in "$@"; do
  [ "$prev" = "--out" ] && out_dir=$a
  prev=$a
done
case "$out_dir" in */refused/*) rm -rf "$out_dir" ;; esac
out=$("$@" 2>/tmp/expect.$$.err); code=$?
err=$(cat /tmp/expect.$$.err); rm -f /tmp/expect.$$.err
if [ "$code" != "$want" ]; then echo "exit code $code, expected $want"; echo "$out"; echo "$err"; exit 1; fi
if ! printf '%s\n%s\n' "$out" "$err" | grep -qE -- "$pattern"; then echo "output does not match: $pattern"; echo "$out"; echo "$err"; exit 1; fi
if [ "$want" = 2 ] && [ "$(printf '%s\n' "$err" | grep -c .)" != 1 ]; then echo "expected exactly one error line, got:"; echo "$err"; exit 1; fi
if [ "$want" = 2 ] && [ -n "$out_dir" ] && [ -e "$out_dir" ]; then
  echo "the refused command left its output folder behind: $out_dir"; ls -la "$out_dir"; exit 1
fi
echo ok
