/// The spool's hold on a delivery while its handler works: the runtime sets it on each
/// delivery it claims, and `Delivery.checkLease()` asks it.
package protocol DeliveryLease: Sendable {
    /// Throws once the lease is lost (another process took the delivery over).
    func check() throws
}
