import JobRunner

/// The job launcher every test's executor shares, as the daemon's one executor has one: a
/// launcher is a thread that lives as long as the process.
public let testLauncher = ProcessLauncher()
