// The `jobq` executable. `jobq submit [-q QUEUE] [-p N] [--shell] -- COMMAND...`, the call
// scripts make in loops, is done here with nothing but the C library: no Foundation, SwiftNIO or
// argument parser to load, so that a submit costs about what starting a C program costs. Every
// other command line (other options, help, every other command) is handed to `jobq-cli`, the
// whole client, by exec: its parsing, messages and exit codes are the reference, and the quick
// path takes only what it can check exactly as `jobq-cli` would.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

if let submit = QuickSubmit(argc: CommandLine.argc, argv: CommandLine.unsafeArgv) {
    exit(submit.run())
}
FullClient.exec(Array(CommandLine.arguments.dropFirst()))
