// etcd's answers to membership changes, with its texts (etcdserver/api/v3rpc/rpctypes).

extension KeelError {
    static let memberExists = KeelError(.failedPrecondition, "etcdserver: member ID already exist")
    static let peerURLExists = KeelError(.failedPrecondition, "etcdserver: Peer URLs already exists")
    static let memberNotFound = KeelError(.notFound, "etcdserver: member not found")
    static let memberBadURLs = KeelError(.invalidArgument, "etcdserver: given member URLs are invalid")
    static let memberNotLearner = KeelError(.failedPrecondition, "etcdserver: can only promote a learner member")
    static let learnerNotReady = KeelError(.failedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader")
    static let tooManyLearners = KeelError(.failedPrecondition, "etcdserver: too many learner members in cluster")
    static let notEnoughStartedMembers = KeelError(
        .failedPrecondition, "etcdserver: re-configuration failed due to not enough started members")
    // Keel's own: etcd drops a second change silently and lets the request time out.
    static let membershipChangeInProgress = KeelError(
        .failedPrecondition, "etcdserver: a membership change is in progress; retry once it is applied")
    static let lastVoter = KeelError(.failedPrecondition, "etcdserver: cannot remove the last voting member")
    /// A member removed from the cluster refuses everything (etcd's text).
    static let memberRemoved = KeelError(.failedPrecondition, "etcdserver: the member has been permanently removed from the cluster")

    /// The refusal a leader sent for a forwarded change, with its code restored (only the text
    /// crosses the peer network).
    static func membership(_ message: String) -> KeelError {
        let known = [
            memberExists, peerURLExists, memberNotFound, memberBadURLs, memberNotLearner, learnerNotReady, tooManyLearners,
            notEnoughStartedMembers, membershipChangeInProgress, lastVoter, memberRemoved, noLeader,
        ]
        return known.first { $0.message == message } ?? KeelError(.failedPrecondition, message)
    }
}
