import Foundation
import Hummingbird
import JobModel
import JobStoring
import NIOCore

/// The answer to `POST /v1/jobs` as bytes, so that the router's route and ``SubmitHandler``
/// send the same thing: JSON, or with `Accept: text/plain` each job's id on a line of its own
/// and a refusal as `code: message`.
struct SubmitAnswer {
    var status: HTTPResponse.Status
    var contentType: String
    var body: ByteBuffer

    /// The specs of a submit body: one spec, or `{"jobs": [spec, …]}`. The common bodies take
    /// ``BodyReader``; `JSONDecoder` decides the rest and says where a malformed one is wrong.
    static func specs(of body: ByteBuffer) throws -> [JobSpec] {
        let specs = try BodyReader.specs(body.readableBytesView) ?? decodeJSON(SubmitBody.self, body).specs
        guard !specs.isEmpty else { throw APIError.invalid("jobs: the batch is empty") }
        return specs
    }

    /// The stored jobs: 201 when a job was created, 200 when every spec named a live job by its
    /// idempotency key (in JSON those items carry the job whole).
    static func submitted(_ submitted: [SubmittedJob], plain: Bool) throws -> SubmitAnswer {
        let status: HTTPResponse.Status = submitted.contains { $0.created } ? .created : .ok
        var buffer = ByteBuffer()
        if plain {
            buffer.reserveCapacity(submitted.count * 8)
            for item in submitted { buffer.writeString("\(item.job.id)\n") }
            return SubmitAnswer(status: status, contentType: plainText, body: buffer)
        }
        // `{"jobs":[{"id":1,"created":true,"state":"queued"},…]}`, written by hand: a batch of
        // thousands answers in microseconds.
        buffer.reserveCapacity(16 + submitted.count * 48)
        buffer.writeStaticString(#"{"jobs":["#)
        for (index, item) in submitted.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeString(#"{"id":\#(item.job.id.rawValue),"created":\#(item.created),"state":"\#(item.job.state.rawValue)""#)
            if !item.created {
                buffer.writeStaticString(#","job":"#)
                buffer.writeBytes(try JSONEncoder().encode(item.job))
            }
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]}")
        return SubmitAnswer(status: status, contentType: "application/json", body: buffer)
    }

    /// A refusal: `{"error":{"code","message"}}`, or `code: message` and a newline.
    static func refused(_ error: APIError, plain: Bool) -> SubmitAnswer {
        if plain {
            return SubmitAnswer(status: error.status, contentType: plainText, body: ByteBuffer(string: "\(error.code): \(error.message)\n"))
        }
        let body = (try? JSONEncoder().encode(ErrorResponse(code: error.code, message: error.message))) ?? Data()
        return SubmitAnswer(status: error.status, contentType: "application/json", body: ByteBuffer(bytes: body))
    }

    static let plainText = "text/plain; charset=utf-8"

    /// The answer as Hummingbird's response (the router's route).
    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

extension APIError {
    /// A store error as the API reports it: its HTTP status and stable code.
    init(_ error: JobStoreError) {
        self.init(error.httpStatus, code: error.code, message: error.description)
    }
}
