#!/usr/bin/env bash
# make install, checked: into a DESTDIR (the expected files and no others, static binaries,
# `jobq --help`, `man -l` of both pages, completions that load, make uninstall), and into a
# PREFIX whose unit files `systemd-analyze verify` can follow to the end (the ExecStart= binary
# present, the man: pages of Documentation= found), which must print nothing.
# Prints "N passed, N failed"; exits 1 when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
tmp=$(mktemp -d /tmp/jobq-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# check NAME COMMAND...: runs the command, its output kept for the failure message.
check() {
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $name"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        sed 's/^/      /' "$tmp/out" | tail -20
    fi
}

dest=$tmp/dest
if ! make --no-print-directory install DESTDIR="$dest" >"$tmp/make.log" 2>&1; then
    tail -30 "$tmp/make.log"
    echo "make install DESTDIR=$dest failed"
    echo "0 passed, 1 failed"
    exit 1
fi

expected="usr/local/bin/jobq
usr/local/bin/jobqd
usr/local/lib/systemd/system/jobqd.service
usr/local/lib/systemd/system/jobqd.socket
usr/local/lib/systemd/user/jobqd.service
usr/local/lib/systemd/user/jobqd.socket
usr/local/lib/sysusers.d/jobq.conf
usr/local/lib/tmpfiles.d/jobq.conf
usr/local/libexec/jobq/jobq-cli
usr/local/share/bash-completion/completions/jobq
usr/local/share/fish/vendor_completions.d/jobq.fish
usr/local/share/jobq/shared-machine.conf
usr/local/share/man/man1/jobq.1
usr/local/share/man/man8/jobqd.8
usr/local/share/zsh/site-functions/_jobq"

installed_files() { (cd "$dest" && find . -type f | sed "s|^\./||" | LC_ALL=C sort); }
same_files() { diff <(echo "$expected") <(installed_files); }
check "make install DESTDIR= writes the expected files and no others" same_files

modes() {
    [ "$(stat -c %a "$dest/usr/local/bin/jobq")" = 755 ] && [ "$(stat -c %a "$dest/usr/local/bin/jobqd")" = 755 ] &&
        [ "$(stat -c %a "$dest/usr/local/lib/systemd/system/jobqd.service")" = 644 ]
}
check "binaries 0755, other files 0644" modes

# (ldd exits 1 for a static executable: its words are checked, not its status.)
static_jobq() {
    local words
    words=$(ldd "$dest/usr/local/bin/jobq" 2>&1)
    echo "$words"
    [[ "$words" == *"not a dynamic executable"* || "$words" == *"statically linked"* ]]
}
check "jobq is a static executable (its quick submit path starts like a C program)" static_jobq

static_runtime() {
    ! ldd "$dest/usr/local/libexec/jobq/jobq-cli" "$dest/usr/local/bin/jobqd" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime'
}
check "the binaries carry the Swift runtime (no libswift*, libFoundation, libdispatch needed)" static_runtime

help_works() { "$dest/usr/local/bin/jobq" --help | grep -q "Exit codes" && "$dest/usr/local/bin/jobqd" --help | grep -q "USAGE: jobqd"; }
check "the installed jobq --help and jobqd --help" help_works

man_page() {
    local page=$1 word=$2
    MANPAGER=cat MANWIDTH=100 man -l "$dest/usr/local/share/man/$page" >"$tmp/man.txt" 2>"$tmp/man.err" &&
        grep -q "$word" "$tmp/man.txt" && ! [ -s "$tmp/man.err" ] || { cat "$tmp/man.err"; head -20 "$tmp/man.txt"; false; }
}
check "man -l man1/jobq.1 renders (its submit section included), no warnings" man_page man1/jobq.1 "submit"
check "man -l man8/jobqd.8 renders (its --state-dir option included), no warnings" man_page man8/jobqd.8 "state-dir"

exec_start() { grep -qx "ExecStart=/usr/local/bin/jobqd" "$dest/usr/local/lib/systemd/system/jobqd.service" &&
    grep -qx "ExecStart=/usr/local/bin/jobqd" "$dest/usr/local/lib/systemd/user/jobqd.service"; }
check "the units start /usr/local/bin/jobqd" exec_start

bash_completion() { bash -c "source '$dest/usr/local/share/bash-completion/completions/jobq' && complete -p jobq"; }
check "the bash completion loads and completes jobq" bash_completion
fish_zsh_nonempty() { grep -q "submit" "$dest/usr/local/share/fish/vendor_completions.d/jobq.fish" &&
    grep -q "#compdef jobq" "$dest/usr/local/share/zsh/site-functions/_jobq"; }
check "the fish and zsh completions name the commands" fish_zsh_nonempty

uninstall() { make --no-print-directory uninstall DESTDIR="$dest" >/dev/null && [ -z "$(installed_files)" ]; }
check "make uninstall DESTDIR= removes every file make install wrote" uninstall

# A real PREFIX: the units then name a jobqd that exists, and man finds the pages.
prefix=$tmp/prefix
if make --no-print-directory install PREFIX="$prefix" >"$tmp/make.log" 2>&1; then
    prefix_units() { grep -qx "ExecStart=$prefix/bin/jobqd" "$prefix/lib/systemd/system/jobqd.service"; }
    check "make install PREFIX= rewrites ExecStart= for that prefix" prefix_units
    verify_system() {
        MANPATH="$prefix/share/man" systemd-analyze verify \
            "$prefix/lib/systemd/system/jobqd.service" "$prefix/lib/systemd/system/jobqd.socket" 2>&1 | tee "$tmp/verify"
        [ "${PIPESTATUS[0]}" = 0 ] && ! [ -s "$tmp/verify" ]
    }
    check "systemd-analyze verify of jobqd.service and jobqd.socket prints nothing" verify_system
    verify_user() {
        mkdir -p -m 700 "$tmp/xdg-runtime"
        XDG_RUNTIME_DIR="$tmp/xdg-runtime" MANPATH="$prefix/share/man" systemd-analyze --user verify \
            "$prefix/lib/systemd/user/jobqd.service" "$prefix/lib/systemd/user/jobqd.socket" 2>&1 | tee "$tmp/verify"
        [ "${PIPESTATUS[0]}" = 0 ] && ! [ -s "$tmp/verify" ]
    }
    check "systemd-analyze --user verify of the user units prints nothing" verify_user
    snippets() {
        mkdir -p "$tmp/sysroot/etc" &&
            systemd-sysusers --root="$tmp/sysroot" "$prefix/lib/sysusers.d/jobq.conf" &&
            grep -q '^jobq:x:[0-9]*:[0-9]*:.*:/var/lib/jobq:' "$tmp/sysroot/etc/passwd" &&
            systemd-tmpfiles --root="$tmp/sysroot" --create "$prefix/lib/tmpfiles.d/jobq.conf" &&
            [ "$(stat -c %a "$tmp/sysroot/run/jobq")" = 750 ]
    }
    check "systemd-sysusers creates the jobq account, systemd-tmpfiles /run/jobq 0750" snippets
else
    tail -30 "$tmp/make.log"
    failed=$((failed + 1))
    echo "FAIL  make install PREFIX=$prefix"
fi

echo "install-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
