// kvd: the server executable. Flags are parsed here; everything else is KeelServer's KvdMain.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KeelServer

let command = KvdCommand.parseOrExit()
exit(await KvdMain.run(flags: command.flags, configFilePath: command.configFile))
