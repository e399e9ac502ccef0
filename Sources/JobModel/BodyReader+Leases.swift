/// Lease requests, which a consumer sends once a job (or once a batch).
extension BodyReader {
    /// A `POST /v1/queues/{name}/lease` body, or `nil` when `JSONDecoder` must decide. Its
    /// bounds are checked after, by ``LeaseRequest/validate()``, as for a decoded one.
    public static func leaseRequest(_ bytes: some Collection<UInt8>) -> LeaseRequest? {
        read(bytes) { $0.leaseRequest() }
    }

    mutating func leaseRequest() -> LeaseRequest? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var request = LeaseRequest()
        var seen: UInt8 = 0
        if take(UInt8(ascii: "}")) { return request }
        repeat {
            guard let key = string(), let field = LeaseRequest.CodingKeys(rawValue: key), seen & field.bit == 0,
                  take(UInt8(ascii: ":")), !takeNull() else { return nil }
            seen |= field.bit
            switch field {
            case .max:
                guard let value = integer(), let max = Int(exactly: value) else { return nil }
                request.max = max
            case .waitSeconds:
                guard let value = double() else { return nil }
                request.waitSeconds = value
            case .leaseSeconds:
                guard let value = double() else { return nil }
                request.leaseSeconds = value
            case .consumer:
                guard let value = string() else { return nil }
                request.consumer = value
            case .complete:
                guard let items = completions(), items.count <= CompleteManyRequest.maxLeases else { return nil }
                request.complete = items
            }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}")) ? request : nil
    }

    /// `[{"token": "J.R", "result": …}, …]`.
    mutating func completions() -> [CompleteManyRequest.Item]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var items: [CompleteManyRequest.Item] = []
        if take(UInt8(ascii: "]")) { return items }
        repeat {
            guard take(UInt8(ascii: "{")) else { return nil }
            var token: LeaseToken?
            var result: JSONValue?
            if !take(UInt8(ascii: "}")) {
                repeat {
                    // A repeated field finds its value already read.
                    guard let key = string(), let field = CompleteManyRequest.Item.CodingKeys(rawValue: key),
                          take(UInt8(ascii: ":")), !takeNull() else { return nil }
                    switch field {
                    case .token:
                        guard token == nil, let text = string(), let value = LeaseToken(text) else { return nil }
                        token = value
                    case .result:
                        guard result == nil, let value = value(), value.compactJSON.utf8.count <= CompleteRequest.resultBytes else { return nil }
                        result = value
                    }
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            guard let token else { return nil }
            items.append(CompleteManyRequest.Item(token: token, result: result))
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]")) ? items : nil
    }
}

extension LeaseRequest.CodingKeys {
    /// The field's bit in a set of fields read.
    fileprivate var bit: UInt8 {
        switch self {
        case .max: 1 << 0
        case .waitSeconds: 1 << 1
        case .leaseSeconds: 1 << 2
        case .consumer: 1 << 3
        case .complete: 1 << 4
        }
    }
}
