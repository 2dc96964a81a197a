#!/bin/bash
# Prints the Debian mirror apt itself uses for a suite (default bookworm): the URI of the first
# active entry of apt's sources that serves it, for debootstrap and for a container's
# sources.list. Only active entries count: one-line `deb` entries (sources.list, *.list) and
# deb822 stanzas (*.sources) whose Types hold deb and that are not `Enabled: no`; comments,
# deb-src entries and other suites (bookworm-security, bookworm-updates) are skipped. Prints
# http://deb.debian.org/debian (debian-security for a -security suite) when no active entry
# serves the suite.
# Usage: scripts/debian-mirror.sh [SUITE [SOURCE-FILE...]]   (default: apt's own files, in apt's order)
set -euo pipefail
suite=${1:-bookworm}
[ $# -gt 0 ] && shift
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  shopt -s nullglob
  files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
fi
for f in "${files[@]}"; do
  [ -r "$f" ] || continue
  case $f in
    *.sources) format=deb822 ;;
    *) format=line ;;
  esac
  uri=$(awk -v suite="$suite" -v format="$format" '
    function usable(u) { return u ~ /^(https?|file):\/\// }
    function has(list, word,   n, i, w) {
      n = split(list, w, /[ \t]+/)
      for (i = 1; i <= n; i++) if (w[i] == word) return 1
      return 0
    }
    # a deb822 stanza ends: print its first usable URI if it is an active deb entry for suite
    function stanza_end(   n, i, u) {
      if (!found && has(f["types"], "deb") && tolower(f["enabled"]) != "no" && has(f["suites"], suite)) {
        n = split(f["uris"], u, /[ \t]+/)
        for (i = 1; i <= n; i++) if (usable(u[i])) { found = 1; print u[i]; exit }
      }
      delete f
      key = ""
    }
    format == "line" {
      sub(/#.*/, "")
      gsub(/\[[^]]*\]/, "")  # [arch=amd64 signed-by=...] options
      if ($1 == "deb" && $3 == suite && usable($2)) { print $2; exit }
      next
    }
    /^#/ { next }            # a comment line, inside a stanza or not
    /^[ \t]*$/ { stanza_end(); next }
    /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }   # a continuation line
    {
      key = tolower(substr($0, 1, index($0, ":") - 1))
      value = substr($0, index($0, ":") + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", value)
      f[key] = value
    }
    END { stanza_end() }
  ' "$f")
  if [ -n "$uri" ]; then
    echo "${uri%/}"
    exit 0
  fi
done
case $suite in
  *-security) echo "http://deb.debian.org/debian-security" ;;
  *) echo "http://deb.debian.org/debian" ;;
esac
