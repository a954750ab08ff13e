/// A binary min-heap ordered by `precedes`, which must be a strict total order on the elements
/// pushed (ties broken by something unique), so the pop order is a function of the contents: the
/// lessor's timers and the node simulation's event queue replay identically.
public struct MinHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// An empty heap ordered by `precedes`.
    public init(by precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

    /// Elements held.
    public var count: Int { items.count }
    /// The least element.
    public var first: Element? { items.first }

    /// Adds an element.
    public mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the least element.
    public mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count, precedes(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { return top }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }

    /// Removes every element.
    public mutating func removeAll() { items = [] }
}
