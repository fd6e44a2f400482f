/// An error in ARM's shape: `{"error":{"code","message","target"}}` with the HTTP status it is
/// returned under. Every message names the field, the value and what is allowed.
public struct ARMError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var target: String?

    public init(status: Int, code: String, message: String, target: String? = nil) {
        self.status = status; self.code = code; self.message = message; self.target = target
    }

    public var description: String {
        "\(code): \(message)" + (target.map { " (target: \($0))" } ?? "")
    }

    // MARK: Common errors

    /// 400 InvalidRequestFormat-style error naming the field.
    public static func invalid(_ field: String, _ message: String) -> ARMError {
        ARMError(status: 400, code: "InvalidRequestFormat", message: "\(field): \(message)", target: field)
    }
    public static func missing(_ field: String, _ hint: String = "") -> ARMError {
        ARMError(status: 400, code: "MissingRequiredProperty", message: "\(field) is required" + (hint.isEmpty ? "." : ": \(hint)"), target: field)
    }
    /// 400 for a request that is well-formed but breaks a rule of the product.
    public static func rule(_ code: String, _ field: String?, _ message: String) -> ARMError {
        ARMError(status: 400, code: code, message: message, target: field)
    }
    /// 409 for a conflict with existing resources.
    public static func conflict(_ code: String, _ field: String?, _ message: String) -> ARMError {
        ARMError(status: 409, code: code, message: message, target: field)
    }
    public static func notFound(_ what: String, _ id: String) -> ARMError {
        ARMError(status: 404, code: "ResourceNotFound", message: "The \(what) '\(id)' was not found.", target: id)
    }

    enum CodingKeys: String, CodingKey { case code, message, target }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = 0
        code = try c.decode(String.self, forKey: .code)
        message = try c.decode(String.self, forKey: .message)
        target = try c.decodeIfPresent(String.self, forKey: .target)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(target, forKey: .target)
    }
}

/// `{"error": {...}}` envelope.
public struct ARMErrorBody: Codable, Sendable {
    public var error: ARMError
    public init(error: ARMError) { self.error = error }
}
