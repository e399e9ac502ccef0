/// The launcher's running processes, by their token and by each of their descriptors.
///
/// Descriptor numbers are reused: a stream closed at its end of file gives its number back
/// while its process still runs, and the next launch may take it. So forgetting a process
/// removes only the entries that still name it.
struct WatchRegistry<Entry: AnyObject> {
    private var byToken: [UInt64: Entry] = [:]
    private var byDescriptor: [Int32: Entry] = [:]

    var entries: Dictionary<UInt64, Entry>.Values { byToken.values }
    var descriptorCount: Int { byDescriptor.count }

    subscript(descriptor: Int32) -> Entry? { byDescriptor[descriptor] }
    subscript(token token: UInt64) -> Entry? { byToken[token] }

    mutating func add(_ entry: Entry, token: UInt64, descriptors: [Int32]) {
        byToken[token] = entry
        for descriptor in descriptors { byDescriptor[descriptor] = entry }
    }

    /// One of an entry's descriptors was closed.
    mutating func closed(_ descriptor: Int32) {
        byDescriptor[descriptor] = nil
    }

    mutating func forget(_ entry: Entry, token: UInt64, descriptors: [Int32]) {
        if byToken[token] === entry { byToken[token] = nil }
        for descriptor in descriptors where byDescriptor[descriptor] === entry {
            byDescriptor[descriptor] = nil
        }
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that does not fit: a deadline too far to count.
    func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
