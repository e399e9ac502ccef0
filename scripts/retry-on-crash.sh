#!/usr/bin/env bash
# Runs a command, and runs it again (twice at most) when it died of a crash signal (SIGSEGV,
# SIGBUS, SIGILL, SIGABRT, SIGFPE). SwiftPM on Linux sometimes crashes in libdispatch while it
# builds (swiftlang/swift#87033, swiftlang/swift-package-manager#8171); a build is idempotent, so
# running it again is safe. Any other failure, and an interrupt, ends the script with the
# command's own status at once.
#
#   scripts/retry-on-crash.sh swift build -c release
set -uo pipefail
attempt=1
while :; do
    "$@"
    status=$?
    case "$status" in
        132|134|135|136|139) ;;  # 128 + SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV
        *) exit "$status" ;;
    esac
    if [ "$attempt" -ge 3 ]; then
        echo "retry-on-crash: '$*' crashed (status $status) $attempt times; giving up" >&2
        exit "$status"
    fi
    echo "retry-on-crash: '$*' crashed (status $status); running it again" >&2
    attempt=$((attempt + 1))
done
