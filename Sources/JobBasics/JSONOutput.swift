/// Writes JSON text: objects, arrays, strings (escaped per RFC 8259), integers and finite numbers.
public struct JSONOutput {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next member or element is the first of its container (no comma before it).
    private var first = true

    public init() { bytes.reserveCapacity(256) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separate() {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        first = true
    }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); first = false }

    /// A member's key; its value follows.
    public mutating func key(_ name: String) {
        separate()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        first = true  // the value is not preceded by a comma
    }

    public mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONOutput, S.Element) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        first = true
        for value in elements { element(&self, value) }
        bytes.append(UInt8(ascii: "]"))
        first = false
    }

    public mutating func string(_ value: String) {
        separate()
        writeString(value)
    }

    /// A value already written as JSON (by this writer), as is.
    public mutating func raw(_ json: String) {
        separate()
        bytes.append(contentsOf: json.utf8)
    }

    /// `null`, `true` or `false`.
    public mutating func literal(_ word: StaticString) {
        separate()
        word.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func integer(_ value: Int64) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A finite number, written so that it reads back as the same Double.
    public mutating func number(_ value: Double) {
        separate()
        if value == value.rounded(), abs(value) < 1e15 {
            bytes.append(contentsOf: String(Int64(value)).utf8)
        } else {
            bytes.append(contentsOf: String(value).utf8)  // shortest round-trip form, e.g. 1.5, 1e-05
        }
    }

    private mutating func writeString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: appended whole, not byte by byte.
        let whole: Bool? = value.utf8.withContiguousStorageIfAvailable { text in
            guard text.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: text)
            return true
        }
        if whole != true {
            for byte in value.utf8 { Self.escape(byte) { bytes.append($0) } }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Gives `emit` the bytes that stand for one byte of a string's UTF-8 inside a JSON string:
    /// the byte itself, or its escape (`\"`, `\\`, `\n`, `\r`, `\t`, `\u00XX` for the other
    /// control bytes). `jobq`'s quick submit path writes its request with it, into a buffer of
    /// its own.
    @inlinable
    public static func escape(_ byte: UInt8, _ emit: (UInt8) -> Void) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            emit(UInt8(ascii: "\\"))
            emit(byte)
        case 0x0A: emit(UInt8(ascii: "\\")); emit(UInt8(ascii: "n"))
        case 0x0D: emit(UInt8(ascii: "\\")); emit(UInt8(ascii: "r"))
        case 0x09: emit(UInt8(ascii: "\\")); emit(UInt8(ascii: "t"))
        case 0x00..<0x20:
            emit(UInt8(ascii: "\\")); emit(UInt8(ascii: "u")); emit(UInt8(ascii: "0")); emit(UInt8(ascii: "0"))
            let high = byte >> 4, low = byte & 0xF
            emit(UInt8(ascii: "0") + high)
            emit(low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10)
        default: emit(byte)
        }
    }
}
