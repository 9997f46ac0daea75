/// Writes a contact event's JSON straight from a decoded form, in the shape
/// `ContactEvent.write(to:)` gives the same event: the request path's one mapping from
/// the platform's parameters to an event.
///
/// Nothing is built between the two: the section table (`EventSection.all`) says which
/// top-level keys are sections and which keys their records know, and values go from the
/// arena's byte ranges to the JSON escaper. A handler that wants the typed event reads it
/// back from this JSON (`ContactEvent(storedJSON:)`), as the spool's dispatcher does.
///
/// The mapping:
/// - structured mode when any section key is present in a non-GET request, else shortcode;
/// - sections decode in both modes; in shortcode mode, flat `email`, `phone`, `id` and
///   `profile_url` fill `contact` where `contact[…]` left a key out, and every other flat
///   parameter becomes a `fields` entry `{name, value}` in query order (the `fields[…]`
///   section's records take its place in that order);
/// - `transactionid` is the event's; anything else goes to `extra`.
///
/// Checks come first, in the order the keys were sent, so a malformed request fails on
/// its first malformed key, with nothing written.
package enum EventEncoder {
    /// An encoded event.
    package struct Output: Sendable {
        /// The event's JSON, without a trailing newline.
        package var json: [UInt8]
        /// `transactionid`, when one was sent.
        package var transactionID: String?
        /// The contact's `id` as the JSON has it: the spool orders a contact's deliveries by it.
        package var contactID: String?
        /// The contact's `email` as the JSON has it (the spool's key without an id).
        package var contactEmail: String?
    }

    private typealias View = FormArena.View
    private typealias NodeID = FormArena.NodeID

    /// Every name the mapping compares keys with, as bytes in one buffer that lives as long
    /// as the process: read in the loops without reference counting.
    private struct Names: @unchecked Sendable {
        /// Slot `section * 9` is a section's name, `section * 9 + 1 + k` its record key `k`.
        static let stride = 9
        let base: UnsafePointer<UInt8>
        let ranges: UnsafePointer<(offset: Int32, count: Int32)>
        let keyCounts: UnsafePointer<Int32>
        /// Where the transaction id's name and the four flat contact keys are.
        let transaction: Int
        let flatContact: Int

        init() {
            var text: [UInt8] = []
            var ranges: [(offset: Int32, count: Int32)] = []
            func add(_ name: String) {
                ranges.append((Int32(text.count), Int32(name.utf8.count)))
                text += Array(name.utf8)
            }
            for section in EventSection.all {
                precondition(section.keys.count < Self.stride, "a record knows at most 8 keys")
                add(section.name)
                for key in section.keys { add(key) }
                for _ in section.keys.count..<(Self.stride - 1) { ranges.append((0, -1)) }
            }
            transaction = ranges.count
            add("transactionid")
            flatContact = ranges.count
            for key in Contact.names { add(key) }
            let base = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, text.count))
            base.initialize(from: text, count: text.count)
            let table = UnsafeMutablePointer<(offset: Int32, count: Int32)>.allocate(capacity: ranges.count)
            table.initialize(from: ranges, count: ranges.count)
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: EventSection.all.count)
            counts.initialize(from: EventSection.all.map { Int32($0.keys.count) }, count: EventSection.all.count)
            self.base = UnsafePointer(base)
            self.ranges = UnsafePointer(table)
            self.keyCounts = UnsafePointer(counts)
        }

        /// True when `node`'s key is the string `slot` names.
        @inline(__always)
        func matches(_ node: FormArena.Node, _ slot: Int, in view: View) -> Bool {
            let range = ranges[slot]
            guard node.keyLength == range.count, range.count > 0 else { return false }
            return memcmp(view.keyBytes(node).baseAddress!, base + Int(range.offset), Int(range.count)) == 0
        }

        /// The bytes `slot` names.
        @inline(__always)
        func bytes(_ slot: Int) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: base + Int(ranges[slot].offset), count: Int(ranges[slot].count))
        }
    }

    private static let names = Names()
    private static let shapes: [EventSection.Shape] = EventSection.all.map(\.shape)
    private static let sectionCount = EventSection.all.count
    private static let contactSection = 0
    private static let fieldsSection = 1
    /// `found` slots: sections first, then the flat contact keys, then the transaction id.
    private static let flatSlot = 16
    private static let transactionSlot = 31

    /// How a request's parameters map: structured when any section key is present in a
    /// non-GET request, else shortcode.
    package static func mode(of arena: FormArena, method: String) -> EventMode {
        if method == "GET" { return .shortcode }
        return arena.withView { view in
            var child = view[FormArena.root].first
            while child >= 0 {
                let node = view[child]
                if sectionIndex(of: node, in: view) != nil { return .structured }
                child = node.next
            }
            return .shortcode
        }
    }

    /// The event's JSON for the form in `arena`, with `metadata` as its `meta`.
    package static func encode(_ arena: FormArena, metadata: EventMetadata) throws(EventError) -> Output {
        var writer = JSONWriter(capacity: arena.byteCount + 1024)
        var output = try arena.withView { (view) throws(EventError) -> Output in
            try encode(view, shortcode: metadata.mode == .shortcode, metadata: metadata, to: &writer)
        }
        output.json = writer.bytes
        return output
    }

    /// Writes the event; returns its identity (the JSON is the writer's).
    private static func encode(_ view: View, shortcode: Bool, metadata: EventMetadata, to writer: inout JSONWriter) throws(EventError) -> Output {
        // Where each section, each flat contact key and the transaction id were found: one
        // pass, checking shapes as it goes.
        var found = SIMD32<Int32>(repeating: -1)
        var child = view[FormArena.root].first
        while child >= 0 {
            let node = view[child]
            defer { child = node.next }
            if node.hasIntegerKey { continue }
            if names.matches(node, names.transaction, in: view) {
                guard !node.isArray else { throw .expectedString(key: "transactionid") }
                found[transactionSlot] = child
            } else if let section = sectionIndex(of: node, in: view) {
                try check(child, section: section, in: view)
                found[section] = child
            } else if shortcode, let slot = flatContactSlot(of: node, in: view) {
                guard !node.isArray else { throw .expectedString(key: Contact.names[slot]) }
                found[flatSlot + slot] = child
            }
        }

        writer.beginObject()
        writer.plainKey("transactionid")
        var output = Output(json: [], transactionID: found[transactionSlot] >= 0 ? view.string(view[found[transactionSlot]]) : nil)
        if found[transactionSlot] >= 0 { writer.string(bytes: view.valueBytes(view[found[transactionSlot]])) } else { writer.null() }
        for section in 0..<sectionCount {
            writer.key(plain: names.bytes(section * Names.stride))
            let node = found[section]
            switch shapes[section] {
            case .object:
                // `contact`: the section's record, flat shortcode keys filling its gaps.
                var fallback = SIMD8<Int32>(repeating: -1)
                if section == contactSection {
                    for slot in 0..<4 { fallback[slot] = found[flatSlot + slot] }
                }
                let slots = writeRecord(node, section: section, fallback: fallback, in: view, to: &writer)
                if section == contactSection {
                    if slots[0] >= 0 { output.contactID = view.string(view[slots[0]]) }
                    if slots[1] >= 0 { output.contactEmail = view.string(view[slots[1]]) }
                }
            case .list, .objectOrList:
                writer.beginArray()
                if section == fieldsSection && shortcode {
                    writeShortcodeFields(found: found, in: view, to: &writer)
                } else if node >= 0 {
                    writeRecords(of: node, section: section, in: view, to: &writer)
                }
                writer.endArray()
            }
        }
        writer.plainKey("extra")
        writer.beginObject()
        child = view[FormArena.root].first
        while child >= 0 {
            let node = view[child]
            // In shortcode mode a flat parameter is a field, not an extra.
            if !isClaimed(child, found: found), !shortcode || node.isArray {
                FormArena.writeKey(of: node, in: view, to: &writer)
                FormArena.writeValue(child, in: view, to: &writer)
            }
            child = node.next
        }
        writer.endObject()
        writer.plainKey("meta")
        metadata.write(to: &writer)
        writer.endObject()
        return output
    }

    // MARK: Finding keys

    @inline(__always)
    private static func sectionIndex(of node: FormArena.Node, in view: View) -> Int? {
        guard node.keyLength > 0 else { return nil }
        for section in 0..<sectionCount where names.matches(node, section * Names.stride, in: view) { return section }
        return nil
    }

    @inline(__always)
    private static func flatContactSlot(of node: FormArena.Node, in view: View) -> Int? {
        guard node.keyLength > 0 else { return nil }
        for slot in 0..<4 where names.matches(node, names.flatContact + slot, in: view) { return slot }
        return nil
    }

    @inline(__always)
    private static func keySlot(of node: FormArena.Node, section: Int, in view: View) -> Int? {
        guard node.keyLength > 0 else { return nil }
        let first = section * Names.stride + 1
        for slot in 0..<Int(names.keyCounts[section]) where names.matches(node, first + slot, in: view) { return slot }
        return nil
    }

    /// True for the top-level entry the first pass took as the transaction id, a section or
    /// (in shortcode mode) a flat contact key.
    private static func isClaimed(_ id: NodeID, found: SIMD32<Int32>) -> Bool {
        if id == found[transactionSlot] { return true }
        for slot in 0..<sectionCount where found[slot] == id { return true }
        for slot in flatSlot..<(flatSlot + 4) where found[slot] == id { return true }
        return false
    }

    // MARK: Checks

    /// Checks a section's shape: an array, of records whose known keys hold strings. The
    /// key named in an error (`fields[3][name]`) is spelled out only when there is one.
    private static func check(_ id: NodeID, section: Int, in view: View) throws(EventError) {
        let name = EventSection.all[section].name
        let node = view[id]
        guard node.isArray else { throw .expectedArray(key: name) }
        let keyName = { (slot: Int) in String(decoding: names.bytes(section * Names.stride + 1 + slot), as: UTF8.self) }
        if isOneRecord(id, section: section, in: view) {
            if let slot = malformedKey(of: id, section: section, in: view) { throw .expectedString(key: "\(name)[\(keyName(slot))]") }
            return
        }
        var child = node.first
        while child >= 0 {
            let entry = view[child]
            guard entry.isArray else { throw .expectedArray(key: "\(name)[\(view.formKey(entry).description)]") }
            if let slot = malformedKey(of: child, section: section, in: view) {
                throw .expectedString(key: "\(name)[\(view.formKey(entry).description)][\(keyName(slot))]")
            }
            child = entry.next
        }
    }

    /// The slot of the first known key of record `id` that holds an array, if any.
    private static func malformedKey(of id: NodeID, section: Int, in view: View) -> Int? {
        var child = view[id].first
        while child >= 0 {
            let entry = view[child]
            if entry.isArray, let slot = keySlot(of: entry, section: section, in: view) { return slot }
            child = entry.next
        }
        return nil
    }

    /// True when the section's array is one record: `contact` always; `lead-status` when
    /// any key is not an integer (`lead-status[score][]=1` is then one record whose `score`
    /// is malformed, not a list).
    private static func isOneRecord(_ id: NodeID, section: Int, in view: View) -> Bool {
        switch shapes[section] {
        case .object: return true
        case .list: return false
        case .objectOrList:
            var child = view[id].first
            while child >= 0 {
                let entry = view[child]
                if !entry.hasIntegerKey { return true }
                child = entry.next
            }
            return false
        }
    }

    // MARK: Writing

    private static func writeRecords(of id: NodeID, section: Int, in view: View, to writer: inout JSONWriter) {
        let none = SIMD8<Int32>(repeating: -1)
        if isOneRecord(id, section: section, in: view) {
            writeRecord(id, section: section, fallback: none, in: view, to: &writer)
            return
        }
        var child = view[id].first
        while child >= 0 {
            writeRecord(child, section: section, fallback: none, in: view, to: &writer)
            child = view[child].next
        }
    }

    /// In shortcode mode, `fields`: every flat parameter as `{id: null, name, value}`, and
    /// the `fields[…]` section's records where it was sent.
    private static func writeShortcodeFields(found: SIMD32<Int32>, in view: View, to writer: inout JSONWriter) {
        var child = view[FormArena.root].first
        while child >= 0 {
            let node = view[child]
            if child == found[fieldsSection] {
                writeRecords(of: child, section: fieldsSection, in: view, to: &writer)
            } else if !node.isArray, !isClaimed(child, found: found) {
                writer.beginObject()
                writer.plainKey("id")
                writer.null()
                writer.plainKey("name")
                if node.hasIntegerKey { writer.string(String(node.key)) } else { writer.string(bytes: view.keyBytes(node)) }
                writer.plainKey("value")
                writer.string(bytes: view.valueBytes(node))
                writer.endObject()
            }
            child = node.next
        }
    }

    /// Writes the record in array `id` (none: -1): every known key in order, its value or
    /// the `fallback` node's or null, then `extra` when other keys were sent. Returns the
    /// node written for each known key (-1 for null).
    @discardableResult
    private static func writeRecord(_ id: NodeID, section: Int, fallback: SIMD8<Int32>, in view: View, to writer: inout JSONWriter) -> SIMD8<Int32> {
        var slots = fallback
        var others = 0
        if id >= 0 {
            var child = view[id].first
            while child >= 0 {
                let node = view[child]
                if let slot = keySlot(of: node, section: section, in: view) { slots[slot] = child } else { others += 1 }
                child = node.next
            }
        }
        writer.beginObject()
        let first = section * Names.stride + 1
        for slot in 0..<Int(names.keyCounts[section]) {
            writer.key(plain: names.bytes(first + slot))
            if slots[slot] >= 0 {
                writer.string(bytes: view.valueBytes(view[slots[slot]]))
            } else {
                writer.null()
            }
        }
        if others > 0 {
            writer.plainKey("extra")
            writer.beginObject()
            var child = view[id].first
            while child >= 0 {
                let node = view[child]
                if keySlot(of: node, section: section, in: view) == nil {
                    FormArena.writeKey(of: node, in: view, to: &writer)
                    FormArena.writeValue(child, in: view, to: &writer)
                }
                child = node.next
            }
            writer.endObject()
        }
        writer.endObject()
        return slots
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
