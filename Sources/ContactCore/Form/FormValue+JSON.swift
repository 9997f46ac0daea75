extension FormValue {
    /// Writes the value as PHP's `json_encode` renders the same PHP value: an array whose
    /// keys are exactly `0..n-1` in order is a JSON list, any other array an object.
    package func write(to writer: inout JSONWriter) {
        switch self {
        case .string(let text): writer.string(text)
        case .array(let array): array.write(to: &writer)
        }
    }
}

extension FormArray {
    /// Writes the array as PHP's `json_encode` would (an empty array is `[]`).
    package func write(to writer: inout JSONWriter) {
        if isList {
            writer.beginArray()
            for entry in entries { entry.value.write(to: &writer) }
            writer.endArray()
        } else {
            writer.beginObject()
            for (key, value) in entries {
                writer.key(key.description)
                value.write(to: &writer)
            }
            writer.endObject()
        }
    }

    /// The PHP `json_encode` rendering as a string.
    package var phpJSON: String {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.string
    }
}
