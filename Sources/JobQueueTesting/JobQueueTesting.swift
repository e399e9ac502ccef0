// Helpers shared by the test targets (and only by them): temporary directories, blocking work
// kept off the concurrency pools, a stand-in for systemd's notify socket, a seeded generator,
// the job launcher their executors share.

import Foundation

/// Creates a fresh directory under the system's temporary directory and returns its path.
public func makeTemporaryDirectory(_ prefix: String = "jobq") throws -> String {
    var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
    guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) })
    else { throw POSIXError(.EIO) }
    return path
}

/// A fresh temporary directory for `body`, removed afterwards whatever happens.
public func withTemporaryDirectory<T>(_ prefix: String = "jobq", _ body: (String) async throws -> T) async throws -> T {
    let path = try makeTemporaryDirectory(prefix)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Runs blocking work (a read on a FIFO or a socket, waiting for a process) on a thread of its
/// own, never on the cooperative pool or dispatch's, which the code under test needs.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

extension FileHandle {
    /// Writes all of `data`, again after a signal interrupts the write. Foundation's
    /// `write(_:)` traps on any error, EINTR included, which the SIGCHLD of a test's many
    /// children can cause.
    public func writeAll(_ data: Data) {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// A datagram socket bound at a path in a temporary directory (or in the abstract namespace),
/// standing in for systemd's notify socket.
public final class NotifyListener: Sendable {
    public let fd: Int32
    /// What `NOTIFY_SOCKET` should say: the path, or `@name` for an abstract socket.
    public let address: String
    private let directory: String

    /// A listener bound at `path`, or in a directory of its own when `path` is nil.
    public init(path: String? = nil, abstract: Bool = false) throws {
        directory = try makeTemporaryDirectory("jobq-notify")
        let name = abstract
            ? "@jobq-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : (path ?? directory + "/notify.sock")
        address = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        // A safety net, not a timing: a daemon that died before notifying must fail the test
        // (an empty message) instead of hanging it.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The next datagram; empty when none came within a minute.
    public func receive() async -> String {
        let fd = self.fd
        return await onOwnThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
        }
    }
}

/// A small seeded generator (SplitMix64), so that a randomised test can be replayed from its
/// printed seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Another process holding a lock until released: `take` returns once the holder says it has
/// the lock (a line it prints), `release` lets go and waits for the holder to exit.
public final class HeldLock: Sendable {
    private let process: Process
    private let input: FileHandle
    private let farewell: String

    private init(process: Process, input: FileHandle, farewell: String) {
        self.process = process
        self.input = input
        self.farewell = farewell
    }

    /// The `sqlite3` shell inside `BEGIN IMMEDIATE` on the database at `path`, as an operator or
    /// a backup tool would hold it; nil when the shell did not say it has the lock. The shell
    /// waits up to 5 s for a write of the daemon's to commit, and stops at an error (without
    /// `.bail`, a `BEGIN` refused as busy went on to say `locked`).
    public static func sqliteWrite(_ path: String) async throws -> HeldLock? {
        try await take(["sqlite3", "-bail", path], request: ".timeout 5000\nBEGIN IMMEDIATE;\nSELECT 'locked';\n",
                       farewell: "ROLLBACK;\n.quit\n")
    }

    /// `flock --exclusive path cat`: util-linux's flock holds the file's lock while cat echoes
    /// its input; nil when the echo did not come.
    public static func flock(_ path: String) async throws -> HeldLock? {
        try await take(["flock", "--exclusive", path, "cat"], request: "locked\n", farewell: "")
    }

    /// Starts `arguments` (through env), writes `request`, and expects `locked` back.
    private static func take(_ arguments: [String], request: String, farewell: String) async throws -> HeldLock? {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/env")
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.writeAll(Data(request.utf8))
        let reader = output.fileHandleForReading
        let answer = await onOwnThread { String(decoding: reader.availableData, as: UTF8.self) }
        let lock = HeldLock(process: process, input: input.fileHandleForWriting, farewell: farewell)
        guard answer == "locked\n" else {
            _ = await lock.release()
            return nil
        }
        return lock
    }

    /// Lets go (rolls back, for the shell), ends the holder and returns its exit status.
    public func release() async -> Int32 {
        if !farewell.isEmpty { input.writeAll(Data(farewell.utf8)) }
        try? input.close()
        let process = process
        return await onOwnThread {
            process.waitUntilExit()
            return process.terminationStatus
        }
    }
}
