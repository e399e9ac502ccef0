import JobBasics

/// Any JSON value: a payload job's payload and a consumer's result, which jobq stores and
/// hands back without looking inside. Hand-written because Foundation has no `Sendable`,
/// `Codable` JSON value (`JSONSerialization` gives `Any`); whole numbers within Int64 stay exact.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Writes the value into `out` (keys in sorted order).
    public func write(to out: inout JSONOutput) {
        switch self {
        case .null: out.literal("null")
        case .bool(let value): out.literal(value ? "true" : "false")
        case .integer(let value): out.integer(value)
        case .number(let value): out.number(value)
        case .string(let value): out.string(value)
        case .array(let values):
            out.array(values) { out, value in value.write(to: &out) }
        case .object(let members):
            out.beginObject()
            for key in members.keys.sorted() {
                out.key(key)
                members[key]?.write(to: &out)
            }
            out.endObject()
        }
    }

    /// The value as compact JSON text, keys in sorted order.
    public var compactJSON: String {
        var out = JSONOutput()
        write(to: &out)
        return out.text
    }
}
