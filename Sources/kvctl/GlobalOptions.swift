import ArgumentParser
import Foundation
import KeelClient

extension OutputFormat: ExpressibleByArgument {}

/// The flags every command takes, named as etcdctl names them.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Comma-separated gRPC endpoints (default: $KVCTL_ENDPOINTS, else 127.0.0.1:2379).")
    var endpoints: String?

    @Option(name: [.customShort("w"), .customLong("write-out")], help: "Output format: simple, json or table.")
    var writeOut: OutputFormat = .simple

    @Option(help: "How long to wait for a connection to one endpoint (Go syntax: 2s, 500ms).")
    var dialTimeout: String = "2s"

    @Option(help: "How long one command may take in all (Go syntax: 5s).")
    var commandTimeout: String = "5s"

    @Option(help: "The CA (PEM) the servers' certificates must be signed by (default: $KVCTL_CACERT, else the system's roots).")
    var cacert: String?

    @Option(help: "The client certificate (PEM) for servers that require one (default: $KVCTL_CERT).")
    var cert: String?

    @Option(help: "The private key (PEM) of --cert (default: $KVCTL_KEY).")
    var key: String?

    @Flag(help: "Accept any server certificate: encryption without knowing who answers.")
    var insecureSkipTLSVerify = false

    /// The environment variable that holds endpoints when `--endpoints` is not given.
    static let endpointsVariable = "KVCTL_ENDPOINTS"
    /// etcd's client port on this machine.
    static let endpointsDefault = "127.0.0.1:2379"
    /// Flags of this group that take a value as the next word when written without "=".
    static let valueFlags: Set<String> = [
        "--endpoints", "-w", "--write-out", "--dial-timeout", "--command-timeout", "--cacert", "--cert", "--key",
    ]
    /// The environment variables of the TLS flags, read when the flag is absent.
    static let tlsVariables = (cacert: "KVCTL_CACERT", cert: "KVCTL_CERT", key: "KVCTL_KEY")
    /// Commands that take a second word (`member list`).
    static let twoWordCommands: Set<String> = ["member", "endpoint", "lease", "alarm", "snapshot"]

    /// The endpoint list as given (what status and health print), from the flag, the environment or the default.
    func endpointTexts() throws -> [String] {
        let text = endpoints ?? ProcessInfo.processInfo.environment[Self.endpointsVariable] ?? Self.endpointsDefault
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw CommandFailure(message: "no endpoint given in \"\(text)\"", exitCode: 128) }
        // The client drops repeats, so the texts must too, to stay in step with its endpoints.
        var seen: Set<Endpoint> = []
        var texts: [String] = []
        for item in items {
            do {
                if seen.insert(try Endpoint(parsing: item)).inserted { texts.append(item) }
            } catch {
                throw CommandFailure(error)
            }
        }
        return texts
    }

    /// The client configuration these flags describe.
    func clientConfiguration() throws -> KeelClientConfiguration {
        let endpoints = try Endpoint.parseList(endpointTexts().joined(separator: ","))
        let dial = try GoDuration.parse(dialTimeout)
        let command = try GoDuration.parse(commandTimeout)
        guard dial > .zero, command > .zero else {
            throw CommandFailure(message: "--dial-timeout and --command-timeout must be positive", exitCode: 128)
        }
        let tls = try tlsConfiguration()
        var configured = endpoints
        if tls != nil {
            // etcdctl's rule: with TLS options, an endpoint written without a scheme uses TLS.
            for (index, text) in try endpointTexts().enumerated() where !Endpoint.hasScheme(text) {
                configured[index].usesTLS = true
            }
        }
        return KeelClientConfiguration(endpoints: configured, dialTimeout: dial, commandTimeout: command, tls: tls)
    }

    /// The TLS options, nil when none is given. Files are checked here so that a wrong path is
    /// named as such, not reported as a failed connection.
    func tlsConfiguration() throws -> KeelClientTLS? {
        let environment = ProcessInfo.processInfo.environment
        let cacert = cacert ?? environment[Self.tlsVariables.cacert]
        let cert = cert ?? environment[Self.tlsVariables.cert]
        let key = key ?? environment[Self.tlsVariables.key]
        guard cacert != nil || cert != nil || key != nil || insecureSkipTLSVerify else { return nil }
        guard (cert == nil) == (key == nil) else {
            throw CommandFailure(message: "--cert and --key go together: give both or neither", exitCode: 128)
        }
        for (flag, path) in [("--cacert", cacert), ("--cert", cert), ("--key", key)] {
            guard let path else { continue }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CommandFailure(message: "\(flag): cannot read \(path)", exitCode: 128)
            }
        }
        return KeelClientTLS(trustedCAFile: cacert, certificateFile: cert, keyFile: key, skipServerVerification: insecureSkipTLSVerify)
    }

    /// Runs `body` with a client made from these flags, turning every failure into a ``CommandFailure``.
    func withClient(_ body: (KeelClient) async throws -> Void) async throws {
        do {
            let configuration = try clientConfiguration()
            try await KeelClient.withClient(configuration) { client in try await body(client) }
        } catch {
            throw CommandFailure(error)
        }
    }

    /// Takes a global flag met among a command's passthrough words (etcdctl reads flags anywhere
    /// before `--`, so `lock NAME --endpoints=E -- cmd` works): `--flag=value` or `--flag value`,
    /// the value then drawn from `next`. Returns false for any other word.
    mutating func take(_ word: String, next: () -> String?) -> Bool {
        let (flag, inline) = word.split(separator: "=", maxSplits: 1).map(String.init).splitFlag
        if flag == "--insecure-skip-tls-verify", inline == nil {
            insecureSkipTLSVerify = true
            return true
        }
        guard ["--endpoints", "--dial-timeout", "--command-timeout", "--write-out", "-w", "--cacert", "--cert", "--key"].contains(flag) else {
            return false
        }
        guard let value = inline ?? next() else { return false }
        switch flag {
        case "--endpoints": endpoints = value
        case "--dial-timeout": dialTimeout = value
        case "--command-timeout": commandTimeout = value
        case "--cacert": cacert = value
        case "--cert": cert = value
        case "--key": key = value
        default: if let format = OutputFormat(rawValue: value) { writeOut = format }
        }
        return true
    }

    /// Moves global flags written before the command to just after it (see ``KVCtl/main()``).
    static func movingGlobalsAfterCommand(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "--" {
            let word = arguments[index]
            globals.append(word)
            if valueFlags.contains(word), index + 1 < arguments.count {
                globals.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        guard !globals.isEmpty, index < arguments.count else { return arguments }
        var rest = Array(arguments[index...])
        let pathLength = twoWordCommands.contains(rest[0]) && rest.count > 1 ? 2 : 1
        rest.insert(contentsOf: globals, at: pathLength)
        return rest
    }
}

extension Array where Element == String {
    /// `["--flag", "value"]` from `--flag=value`, `["--flag"]` from `--flag`: the flag and its inline value.
    fileprivate var splitFlag: (String, String?) { (first ?? "", count > 1 ? self[1] : nil) }
}
