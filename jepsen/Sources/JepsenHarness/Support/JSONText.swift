// JSON text for results.json, written by hand so the checkers' own JSON can be embedded verbatim.
import JepsenChecker

/// `text` as a JSON string literal (the checker library's escaping).
func jsonString(_ text: String) -> String {
    var out = ""
    JSONWriter.writeString(text, into: &out)
    return out
}
