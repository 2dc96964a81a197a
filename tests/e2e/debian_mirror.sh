#!/bin/bash
# scripts/debian-mirror.sh, which gives debootstrap (e2e.docker_agent) the mirror apt uses:
# only active entries count, never a commented URL (the snapshot line Debian's cloud images
# carry above URIs:), nor deb-src, disabled stanzas or other suites.
. "$(dirname "$0")/lib.bash"
M="$SRC/scripts/debian-mirror.sh"
mirror() { "$M" "$@" 2>&1; }

# Debian 12's own debian.sources, with a mirror of its own
cat >"$T/debian.sources" <<'S'
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
S
expect_eq "deb822: URIs:, not the commented line" "$(mirror bookworm "$T/debian.sources")" \
  "http://mirror.example.org/debian"
expect_eq "deb822: the security suite" "$(mirror bookworm-security "$T/debian.sources")" \
  "http://security.example.org/debian-security"

cat >"$T/other.sources" <<'S'
# a disabled stanza, a source-only one and one for another suite come first
Types: deb
URIs: http://disabled.example.org/debian
Suites: bookworm
Enabled: no

Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm

types: deb
uris: http://trixie.example.org/debian
suites: trixie

Types: deb-src deb
URIs: cdrom:[Debian 12]/ http://second.example.org/debian
Suites:
 bookworm
Components: main
S
expect_eq "deb822: disabled, deb-src, other suites and cdrom skipped" \
  "$(mirror bookworm "$T/other.sources")" "http://second.example.org/debian"

cat >"$T/sources.list" <<'L'
# deb http://commented.example.org/debian bookworm main
   #deb http://indented-comment.example.org/debian bookworm main
deb-src http://src.example.org/debian bookworm main
deb http://security.example.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://active.example.org/debian/ bookworm main # a comment
L
expect_eq "one-line: the active deb entry, options and comments skipped" \
  "$(mirror bookworm "$T/sources.list")" "http://active.example.org/debian"
# files are read in order: the first that serves the suite wins
expect_eq "the first file that serves the suite" \
  "$(mirror bookworm "$T/other.sources" "$T/sources.list")" "http://second.example.org/debian"
expect_eq "a file without the suite is passed over" \
  "$(mirror bookworm-security "$T/other.sources" "$T/sources.list")" \
  "http://security.example.org/debian-security"

printf '# deb http://commented.example.org/debian bookworm main\n' >"$T/none.list"
expect_eq "no active entry: Debian's redirector" "$(mirror bookworm "$T/none.list")" \
  "http://deb.debian.org/debian"
expect_eq "no active entry, security" "$(mirror bookworm-security "$T/none.list")" \
  "http://deb.debian.org/debian-security"
# this machine's own sources give an http(s) URL (never the snapshot line)
got=$(mirror)
[[ $got =~ ^https?://[^[:space:]]+$ ]] && ok || fail "this machine's mirror: '$got'"
if grep -rhs '^#.*snapshot\.debian\.org' /etc/apt/sources.list.d/ >/dev/null; then
  [[ $got != *snapshot.debian.org* ]] && ok || fail "the commented snapshot URL was taken: $got"
fi
done_testing
