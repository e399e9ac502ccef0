// The `jobq` executable: everything is in JobCLI.
import Foundation
import JobCLI

exit(await Jobq.run(Array(CommandLine.arguments.dropFirst())))
