/// What systemd told this process through its environment, read once at start-up.
///
/// Built from an injected dictionary and pid (the daemon passes its real environment and
/// `getpid()`), so that tests need no real systemd. Variables meant for another process (a
/// `LISTEN_PID` or `WATCHDOG_PID` that is not ours) are ignored, as sd_listen_fds and
/// sd_watchdog_enabled do.
public struct SystemdEnvironment: Hashable, Sendable {
    /// An inherited listening socket: its descriptor and, when systemd named it
    /// (`FileDescriptorName=`), its name.
    public struct ListenFD: Hashable, Sendable {
        public var fd: Int32
        public var name: String?

        public init(fd: Int32, name: String?) {
            self.fd = fd
            self.name = name
        }
    }

    /// `NOTIFY_SOCKET`: a path (`/run/systemd/notify`) or an abstract name (`@…`).
    public var notifySocket: String?
    /// How often systemd expects a `WATCHDOG=1`, when it does (`WATCHDOG_USEC`).
    public var watchdogInterval: Duration?
    /// Sockets passed by socket activation, from fd 3 on (`LISTEN_FDS`, `LISTEN_FDNAMES`).
    public var listenFDs: [ListenFD]
    /// `STATE_DIRECTORY` (the first, when systemd lists several).
    public var stateDirectory: String?
    /// `RUNTIME_DIRECTORY` (the first).
    public var runtimeDirectory: String?

    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    public static let listenFDsStart: Int32 = 3

    public init(environment: [String: String], pid: Int32) {
        let notify = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        notifySocket = notify.flatMap { $0.utf8.first == UInt8(ascii: "/") || $0.utf8.first == UInt8(ascii: "@") ? $0 : nil }

        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
            environment["WATCHDOG_PID"].map({ Int32($0) == pid }) ?? true
        {
            watchdogInterval = .microseconds(Int64(clamping: usec))
        } else {
            watchdogInterval = nil
        }

        if let listenPID = environment["LISTEN_PID"].flatMap(Int32.init), listenPID == pid,
            let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0, count < 1024
        {
            let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
            listenFDs = (0..<count).map { index in
                let name = Int(index) < names.count && !names[Int(index)].isEmpty ? names[Int(index)] : nil
                return ListenFD(fd: Self.listenFDsStart + index, name: name)
            }
        } else {
            listenFDs = []
        }

        stateDirectory = environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
        runtimeDirectory = environment["RUNTIME_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
    }

    /// The listening socket named `name`, or the first when none has that name.
    public func listenFD(named name: String) -> Int32? {
        (listenFDs.first { $0.name == name } ?? listenFDs.first)?.fd
    }
}
