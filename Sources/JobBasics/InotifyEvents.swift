#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The events of one `read` from an inotify descriptor, each with its mask and its name (empty
/// for an event about the watched directory itself).
public enum InotifyEvents {
    /// Whether an event in `bytes` satisfies `matches(mask, name)`; the name's padding NULs
    /// are left out.
    public static func contains(_ bytes: ArraySlice<UInt8>, where matches: (UInt32, ArraySlice<UInt8>) -> Bool) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            let (mask, length) = bytes.withUnsafeBytes { raw in
                let start = offset - bytes.startIndex
                return (raw.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: start + 12, as: UInt32.self)))
            }
            let name = bytes[(offset + header)..<min(offset + header + length, bytes.endIndex)]
            if matches(mask, name.prefix { $0 != 0 }) { return true }
            offset += header + length
        }
        return false
    }
}
