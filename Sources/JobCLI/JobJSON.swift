import Foundation
import JobModel

/// A job as every `--json` prints it (submit, show, list, wait, cancel, retry): flat, with
/// stable field names; absent values are `null`.
struct JobJSON: Encodable {
    var job: Job

    enum Key: String, CodingKey {
        case id, state, queue, command, argv, shell, payload, priority, attempts
        case maxAttempts = "max_attempts"
        case interruptedAttempts = "interrupted_attempts"
        case exitCode = "exit_code"
        case signal, error, label, cwd, env
        case after
        case idempotencyKey = "idempotency_key"
        case submitterUID = "submitter_uid"
        case timeoutSeconds = "timeout_seconds"
        case runAt = "run_at"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
        case stdoutPath = "stdout_path"
        case stderrPath = "stderr_path"
        case lease, consumer, result, usage, limits
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(job.id, forKey: .id)
        try container.encode(job.state.rawValue, forKey: .state)
        try container.encode(job.spec.queue, forKey: .queue)
        try container.encode(DisplayText.command(job.spec.command), forKey: .command)
        var argv: [String]?, shell: String?, payload: JSONValue?
        switch job.spec.command {
        case .argv(let words): argv = words
        case .shell(let script): shell = script
        case .payload(let value): payload = value
        }
        try container.encode(argv, forKey: .argv)
        try container.encode(shell, forKey: .shell)
        try container.encode(payload, forKey: .payload)
        try container.encode(job.spec.priority, forKey: .priority)
        try container.encode(job.attempts, forKey: .attempts)
        try container.encode(job.spec.retry.maxAttempts, forKey: .maxAttempts)
        try container.encode(job.interruptedAttempts, forKey: .interruptedAttempts)
        try container.encode(job.exitCode, forKey: .exitCode)
        try container.encode(job.signal, forKey: .signal)
        try container.encode(job.error, forKey: .error)
        try container.encode(job.spec.label, forKey: .label)
        try container.encode(job.spec.cwd, forKey: .cwd)
        try container.encode(job.spec.env, forKey: .env)
        try container.encode(job.spec.after, forKey: .after)
        try container.encode(job.spec.idempotencyKey, forKey: .idempotencyKey)
        try container.encode(job.spec.submitterUID, forKey: .submitterUID)
        try container.encode(job.spec.timeout?.seconds, forKey: .timeoutSeconds)
        try container.encode(job.runAt, forKey: .runAt)
        try container.encode(job.createdAt, forKey: .createdAt)
        try container.encode(job.startedAt, forKey: .startedAt)
        try container.encode(job.finishedAt, forKey: .finishedAt)
        let duration = job.startedAt.flatMap { started in
            job.finishedAt.map { Double($0.millisecondsSinceEpoch - started.millisecondsSinceEpoch) / 1000 }
        }
        try container.encode(duration, forKey: .durationSeconds)
        try container.encode(job.stdoutPath, forKey: .stdoutPath)
        try container.encode(job.stderrPath, forKey: .stderrPath)
        try container.encode(job.lease, forKey: .lease)
        try container.encode(job.consumer, forKey: .consumer)
        try container.encode(job.result, forKey: .result)
        try container.encode(job.usage, forKey: .usage)
        try container.encode(job.spec.limits.isEmpty ? nil : job.spec.limits, forKey: .limits)
    }
}

/// Prints one JSON document (sorted keys, one line, a newline after it).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var data = try encoder.encode(value)
    data.append(UInt8(ascii: "\n"))
    FileHandle.standardOutput.write(data)
}
