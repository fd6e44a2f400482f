/// vpngw-only settings carried as resource tags (Azure has no property for them, so an Azure
/// client can still set them and Azure itself ignores them). Tag names match case-insensitively,
/// as Azure's do.
public enum VpngwTags {
    /// On a connection: `udp` (default: ESP in UDP 4500 always) or `raw` (ESP as IP protocol 50
    /// unless IKE detects a NAT, then UDP 4500).
    public static let espEncapsulation = "vpngw-esp-encapsulation"
    public static let espEncapsulationValues = ["udp", "raw"]

    /// The value of tag `name` (case-insensitive name), if present.
    public static func value(_ name: String, in tags: [String: String]?) -> String? {
        tags?.first { $0.key.lowercased() == name }?.value
    }

    /// A connection's ESP encapsulation tag, lowercased, if valid.
    static func validate(_ tags: [String: String]?) throws(ARMError) {
        guard let v = value(espEncapsulation, in: tags) else { return }
        guard espEncapsulationValues.contains(v.lowercased()) else {
            throw ARMError.invalid("tags.\(espEncapsulation)", "'\(v)' must be udp or raw")
        }
    }
}
