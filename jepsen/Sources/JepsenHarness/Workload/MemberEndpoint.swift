// GRPCCore has an `Endpoint` of its own; files that import it name KeelClient's through this alias.
import KeelClient

/// KeelClient's `Endpoint` (host and port of a member's client address).
public typealias MemberEndpoint = Endpoint
