/// Applies a handler's `map:` to every event before the handler takes it.
final class MappedHandler: ContactHandler {
    let inner: any ContactHandler
    let mapping: FieldMapping

    init(_ inner: any ContactHandler, mapping: FieldMapping) {
        self.inner = inner
        self.mapping = mapping
    }

    var name: String { inner.name }

    func handle(_ delivery: Delivery) throws {
        try inner.handle(mapped(delivery))
    }

    func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        inner.handle(batch: batch.map(mapped))
    }

    func close() {
        inner.close()
    }

    private func mapped(_ delivery: Delivery) -> Delivery {
        var result = Delivery(event: mapping.apply(to: delivery.event))
        result.inDoubt = delivery.inDoubt
        result.lease = delivery.lease
        return result
    }
}
