import JobModel

/// Where a run's kept output is copied as it is written, beside its files: a store several
/// nodes share keeps it, so that any node can read and follow it. Both calls come from the
/// launcher's thread, which watches every process: they must copy and return, never wait.
public struct OutputMirror: Sendable {
    /// Which of a run's streams bytes come from.
    public enum Stream: UInt8, Sendable {
        case stdout = 1
        case stderr = 2
    }

    /// Takes bytes a run kept (under the output limit), in the order they were read; the
    /// buffer is valid for the call only.
    public var append: @Sendable (_ job: JobID, _ run: Int, _ stream: Stream, _ bytes: UnsafeRawBufferPointer) -> Void

    public init(append: @escaping @Sendable (_ job: JobID, _ run: Int, _ stream: Stream, _ bytes: UnsafeRawBufferPointer) -> Void) {
        self.append = append
    }
}
