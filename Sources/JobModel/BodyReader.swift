import JobBasics

/// A fast reader for the JSON jobq reads most: submit bodies, the specs the store reads back
/// and lease requests. It accepts only what it is sure `JSONDecoder` would decode to the same
/// value; on anything else (an escape it does not handle, a `retry` object, a repeated field, a
/// number that is not plain, invalid JSON) it answers `nil`, and the caller decodes with
/// `JSONDecoder`, which also gives the error message. Hand-written because `JSONDecoder` spent
/// most of a batch submit's time, and a sixth of a lease's (perf profiles of jobqd).
public struct BodyReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// What `body` reads from `bytes`, provided that only white space follows it; read in place
    /// when the bytes are contiguous (a `Data`, a request body), else from a copy.
    static func read<T>(_ bytes: some Collection<UInt8>, _ body: (inout BodyReader) -> T?) -> T? {
        if let value = bytes.withContiguousStorageIfAvailable({ read(buffer: $0, body) }) { return value }
        return Array(bytes).withUnsafeBufferPointer { read(buffer: $0, body) }
    }

    /// ``read(_:_:)`` on bytes in place.
    @inline(__always)
    static func read<T>(buffer: UnsafeBufferPointer<UInt8>, _ body: (inout BodyReader) -> T?) -> T? {
        var reader = BodyReader(bytes: buffer)
        guard let value = body(&reader) else { return nil }
        reader.skipSpace()
        return reader.atEnd ? value : nil
    }

    var atEnd: Bool { index >= bytes.count }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after spaces) when it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func takeNull() -> Bool {
        skipSpace()
        guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
            bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
        else { return false }
        index += 4
        return true
    }

    mutating func stringArray() -> [String]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var values: [String] = []
        if take(UInt8(ascii: "]")) { return values }
        repeat {
            guard let value = string() else { return nil }
            values.append(value)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]")) ? values : nil
    }

    mutating func stringObject() -> [String: String]? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var values: [String: String] = [:]
        if take(UInt8(ascii: "}")) { return values }
        repeat {
            guard let key = string(), values[key] == nil, take(UInt8(ascii: ":")), let value = string() else { return nil }
            values[key] = value
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}")) ? values : nil
    }

    /// A string with the escapes `\" \\ \/ \b \f \n \r \t` and `\uXXXX` outside the surrogates;
    /// `nil` for anything else (control characters, invalid UTF-8, surrogate pairs).
    mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        // The common case: no escape, and most often ASCII alone, which needs no validation.
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            ascii = ascii && byte < 0x80
            index += 1
        }
        var scalars: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                        let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<(index + 4)]), as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)  // nil for surrogates
                    else { return nil }
                    index += 4
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    return nil
                }
            default:
                if byte < 0x20 { return nil }
                scalars.append(byte)
            }
        }
        return nil
    }

    /// A JSON value (``JSONValue``) nested at most `depth` deep, whose numbers are plain
    /// integers (a fraction or an exponent is left to `JSONDecoder`) and whose objects repeat
    /// no key.
    mutating func value(depth: Int = 32) -> JSONValue? {
        skipSpace()
        guard index < bytes.count, depth > 0 else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return string().map(JSONValue.string)
        case UInt8(ascii: "{"):
            index += 1
            var members: [String: JSONValue] = [:]
            if take(UInt8(ascii: "}")) { return .object(members) }
            repeat {
                guard let key = string(), members[key] == nil, take(UInt8(ascii: ":")),
                      let member = value(depth: depth - 1) else { return nil }
                members[key] = member
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}")) ? .object(members) : nil
        case UInt8(ascii: "["):
            index += 1
            var elements: [JSONValue] = []
            if take(UInt8(ascii: "]")) { return .array(elements) }
            repeat {
                guard let element = value(depth: depth - 1) else { return nil }
                elements.append(element)
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]")) ? .array(elements) : nil
        case UInt8(ascii: "t"):
            return word("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return word("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return takeNull() ? .null : nil
        default:
            return integer().map(JSONValue.integer)
        }
    }

    /// Consumes `text` when it is next.
    mutating func word(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// A JSON number without an exponent (`300`, `0.5`, `-2`) as a `Double`, as `JSONDecoder`
    /// reads it (both round the decimal text correctly).
    mutating func double() -> Double? {
        skipSpace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digits = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        guard index > digits, index - digits == 1 || bytes[digits] != UInt8(ascii: "0") else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fraction = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > fraction else { return nil }
        }
        if index < bytes.count, [UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) { return nil }
        return Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// A plain integer: an optional minus and digits, no fraction or exponent.
    mutating func integer() -> Int64? {
        skipSpace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digits = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        guard index > digits else { return nil }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) { return nil }
        // JSON has no leading zeros.
        if index - digits > 1, bytes[digits] == UInt8(ascii: "0") { return nil }
        return Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// A plain decimal number of seconds (`12`, `8338.755`, `0.0005`; no sign, no exponent, below
    /// 10^12) as whole milliseconds, read from its digits: exact, as JSONDecoder's `Decimal` is
    /// (a `Double` made 8338.755 s into 8,338,754 ms), and whether they are the number exactly
    /// (no nonzero digit below a millisecond). Anything else is left to JSONDecoder.
    mutating func wholeMilliseconds() -> (Int64, exact: Bool)? {
        skipSpace()
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        var whole: Int64 = 0
        let start = index
        while index < bytes.count, isDigit(bytes[index]) {
            whole = whole * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
            if index - start > 12 { return nil }
        }
        guard index > start, index - start == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        var fraction: Int64 = 0
        var fractionDigits = 0
        var exact = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, isDigit(bytes[index]) {
                if fractionDigits < 3 {
                    fraction = fraction * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                } else if bytes[index] != UInt8(ascii: "0") {
                    exact = false
                }
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits > 0 else { return nil }
        }
        if index < bytes.count, [UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) { return nil }
        for _ in min(fractionDigits, 3)..<3 { fraction *= 10 }
        guard whole < 1_000_000_000_000 else { return nil }
        return (whole * 1000 + fraction, exact)
    }
}
