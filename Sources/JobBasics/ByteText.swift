/// Byte-level tests and splits of text that comes from users: paths, `NAME=value` pairs.
///
/// Swift's `String` compares and searches by grapheme cluster, so `"/\u{1F3FB}"` (a slash with
/// an emoji modifier) does not have the prefix `"/"` and `"A=\u{301}"` does not contain `"="`,
/// while the kernel, `execve` and the environment see the bytes `/` and `=`. Rules about
/// paths and names must hold of the bytes, so they are checked here, on the UTF-8 view.
extension StringProtocol {
    /// Whether the text's first byte is `byte` (for example `/` for an absolute path).
    @inlinable
    public func startsWithByte(_ byte: UInt8) -> Bool {
        utf8.first == byte
    }

    /// Whether the text holds `byte` anywhere.
    @inlinable
    public func containsByte(_ byte: UInt8) -> Bool {
        utf8.contains(byte)
    }

    /// The text before and after the first `byte`, or nil when it holds none.
    /// `"A=\u{301}".splitAtFirstByte(UInt8(ascii: "="))` is `("A", "\u{301}")`.
    @inlinable
    public func splitAtFirstByte(_ byte: UInt8) -> (before: String, after: String)? {
        let bytes = utf8
        guard let index = bytes.firstIndex(of: byte) else { return nil }
        return (String(decoding: bytes[..<index], as: UTF8.self),
                String(decoding: bytes[bytes.index(after: index)...], as: UTF8.self))
    }
}
