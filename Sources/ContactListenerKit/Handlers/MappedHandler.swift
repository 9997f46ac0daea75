/// Applies a handler's `map:` to every event before the handler takes it.
package final class MappedHandler: ContactHandler {
    let inner: any ContactHandler
    let mapping: FieldMapping

    package init(_ inner: any ContactHandler, mapping: FieldMapping) {
        self.inner = inner
        self.mapping = mapping
    }

    package var name: String { inner.name }

    package func handle(_ delivery: Delivery) throws {
        try inner.handle(mapped(delivery))
    }

    package func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        inner.handle(batch: batch.map(mapped))
    }

    package func close() {
        inner.close()
    }

    private func mapped(_ delivery: Delivery) -> Delivery {
        var result = Delivery(event: mapping.apply(to: delivery.event))
        result.inDoubt = delivery.inDoubt
        result.lease = delivery.lease
        return result
    }
}
