// `member`: membership changes. Neither kvd's membership API (MemberAdd/MemberRemove) exists yet,
// so the option is refused before anything starts rather than run as a fault that does nothing.
import Foundation

/// Refuses `--nemesis member` until the server under test has a membership API the harness drives.
public enum MemberNemesis {
    /// Why the option is refused.
    static func unsupported(binary: String) -> HarnessError {
        HarnessError(
            .unsupported,
            "nemesis 'member' is not supported: membership changes (Cluster.MemberAdd/MemberRemove) are not "
                + "implemented by kvd yet, and the harness does not drive them for any server")
    }
}
