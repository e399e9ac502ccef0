import ArgumentParser
import Foundation
import JobModel

/// The usage mistakes people make most, caught before or after ArgumentParser so that the
/// message says what to do: a misspelt command, a help topic that does not exist, a command's
/// own options read as jobq's because `--` was left out.
enum UsageHints {
    /// The subcommands' names, as typed.
    static var commandNames: [String] {
        Jobq.configuration.subcommands.map { $0._commandName }
    }

    /// The arguments after the global `--socket` option, if it comes first.
    static func afterGlobalOptions(_ arguments: [String]) -> ArraySlice<String> {
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--socket", rest.count >= 2 {
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--socket=") {
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        return rest
    }

    /// An error for a first word that is not a command (`jobq stauts`) or a help topic that
    /// does not exist (`jobq help nosuch`); nil when the command line names a real command.
    static func unknownCommand(_ arguments: [String]) -> CLIExit? {
        let rest = afterGlobalOptions(arguments)
        guard var word = rest.first, !word.hasPrefix("-") else { return nil }
        var prefix = "'\(word)' is not a jobq command"
        if word == "help" {
            guard let topic = rest.dropFirst().first else { return nil }
            if topic.hasPrefix("-") || commandNames.contains(topic) { return nil }
            word = topic
            prefix = "there is no help on '\(topic)': it is not a jobq command"
        }
        if commandNames.contains(word) { return nil }
        var message = "Error: \(prefix)."
        if let near = closest(to: word, among: commandNames) { message += " Did you mean '\(near)'?" }
        message += "\nCommands: \(commandNames.joined(separator: ", ")).\n  See 'jobq --help' for more information."
        return CLIExit(code: 2, message: message)
    }

    /// For `jobq submit ls -la`: when ArgumentParser refuses an unknown option that follows the
    /// command's first word, the message says to put `--` before the command.
    static func submitNeedsSeparator(_ arguments: [String], error: any Error) -> CLIExit? {
        let rest = Array(afterGlobalOptions(arguments))
        guard rest.first == "submit" else { return nil }
        let words = Array(rest.dropFirst())
        let message = Jobq.message(for: error)
        guard let unknown = quoted(after: "Unknown option ", in: message),
              let index = words.firstIndex(of: unknown) ?? words.firstIndex(where: { $0.hasPrefix(unknown + "=") }),
              !words[..<index].contains("--")
        else { return nil }
        // The command starts at the first word whose prefix parses with a command.
        guard let start = (0..<index).first(where: { end in
            ((try? Submit.parse(Array(words[...end]))) as Submit?)?.command.isEmpty == false
        }) else { return nil }
        let example = DisplayText.command(Command.argv(["jobq", "submit"] + words[..<start] + ["--"] + words[start...]))
        return CLIExit(code: 2, message: """
            Error: Unknown option '\(unknown)' after the command '\(words[start])'. To pass it to the command, \
            put -- before the command:
              \(example)
              See 'jobq submit --help' for more information.
            """)
    }

    /// The text between single quotes after `marker` in `message`.
    static func quoted(after marker: String, in message: String) -> String? {
        guard let range = message.range(of: marker + "'") else { return nil }
        let tail = message[range.upperBound...]
        guard let end = tail.firstIndex(of: "'") else { return nil }
        return String(tail[..<end])
    }

    /// The candidate nearest to `word` by edit distance, when it is near enough to be a typo.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        if best.0.hasPrefix(word) && word.count >= 2 { return best.0 }
        return best.1 <= max(1, best.0.count / 3) ? best.0 : nil
    }

    /// Damerau–Levenshtein distance (optimal string alignment), so that a swap counts once.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
