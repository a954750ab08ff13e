// kvd: the server executable. Flags are parsed here; everything else is KeelServer's KvdMain.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KeelServer

/// The flags kvd was started with. Swift's runtime sees no arguments at all (argc 0) when a preloaded
/// library such as libfaketime, which the partition-test harness uses for clock faults, is
/// initialized first; the kernel's copy in /proc/self/cmdline is right either way, so it is the
/// fallback rather than silently starting with defaults.
func startupArguments() -> [String] {
    if CommandLine.argc > 0 { return Array(CommandLine.arguments.dropFirst()) }
    guard let data = FileManager.default.contents(atPath: "/proc/self/cmdline") else { return [] }
    var fields = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    if fields.last == "" { fields.removeLast() }
    return Array(fields.dropFirst())
}

let command = KvdCommand.parseOrExit(KvdCommand.spellingOutBooleans(startupArguments()))
exit(await KvdMain.run(flags: command.flags, configFilePath: command.configFile))
