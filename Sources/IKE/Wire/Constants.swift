// IANA "IKEv2 Parameters" registries (RFC 7296 §3 and later RFCs). Open sets are structs over the
// raw value so an unknown number survives a parse/emit round trip; known values carry their IANA name.

public struct ExchangeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ikeSAInit = ExchangeType(rawValue: 34)
    public static let ikeAuth = ExchangeType(rawValue: 35)
    public static let createChildSA = ExchangeType(rawValue: 36)
    public static let informational = ExchangeType(rawValue: 37)

    public var description: String {
        switch rawValue {
        case 34: return "IKE_SA_INIT"
        case 35: return "IKE_AUTH"
        case 36: return "CREATE_CHILD_SA"
        case 37: return "INFORMATIONAL"
        default: return "EXCHANGE(\(rawValue))"
        }
    }
}

public struct PayloadType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let none = PayloadType(rawValue: 0)
    public static let securityAssociation = PayloadType(rawValue: 33)
    public static let keyExchange = PayloadType(rawValue: 34)
    public static let identificationInitiator = PayloadType(rawValue: 35)
    public static let identificationResponder = PayloadType(rawValue: 36)
    public static let certificate = PayloadType(rawValue: 37)
    public static let certificateRequest = PayloadType(rawValue: 38)
    public static let authentication = PayloadType(rawValue: 39)
    public static let nonce = PayloadType(rawValue: 40)
    public static let notify = PayloadType(rawValue: 41)
    public static let delete = PayloadType(rawValue: 42)
    public static let vendorID = PayloadType(rawValue: 43)
    public static let trafficSelectorInitiator = PayloadType(rawValue: 44)
    public static let trafficSelectorResponder = PayloadType(rawValue: 45)
    public static let encrypted = PayloadType(rawValue: 46)
    public static let configuration = PayloadType(rawValue: 47)
    public static let eap = PayloadType(rawValue: 48)
    public static let encryptedFragment = PayloadType(rawValue: 53)

    /// Payload types this implementation parses; anything else is "unrecognized" (RFC 7296 §2.5).
    public var isKnown: Bool { (33...48).contains(rawValue) || rawValue == 53 }

    public var description: String {
        switch rawValue {
        case 0: return "NONE"
        case 33: return "SA"
        case 34: return "KE"
        case 35: return "IDi"
        case 36: return "IDr"
        case 37: return "CERT"
        case 38: return "CERTREQ"
        case 39: return "AUTH"
        case 40: return "Nonce"
        case 41: return "N"
        case 42: return "D"
        case 43: return "V"
        case 44: return "TSi"
        case 45: return "TSr"
        case 46: return "SK"
        case 47: return "CP"
        case 48: return "EAP"
        case 53: return "SKF"
        default: return "PAYLOAD(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.3.1 Protocol ID.
public struct ProtocolID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let none = ProtocolID(rawValue: 0)
    public static let ike = ProtocolID(rawValue: 1)
    public static let ah = ProtocolID(rawValue: 2)
    public static let esp = ProtocolID(rawValue: 3)

    public var description: String {
        switch rawValue {
        case 1: return "IKE"
        case 2: return "AH"
        case 3: return "ESP"
        default: return "PROTO(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.3.2 Transform Type.
public struct TransformType: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let encryption = TransformType(rawValue: 1)
    public static let prf = TransformType(rawValue: 2)
    public static let integrity = TransformType(rawValue: 3)
    public static let keyExchange = TransformType(rawValue: 4)
    public static let extendedSequenceNumbers = TransformType(rawValue: 5)

    public static func < (lhs: TransformType, rhs: TransformType) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch rawValue {
        case 1: return "ENCR"
        case 2: return "PRF"
        case 3: return "INTEG"
        case 4: return "DH"
        case 5: return "ESN"
        default: return "TRANSFORM(\(rawValue))"
        }
    }
}

/// Transform IDs with their IANA names (RFC 7296 §3.3.2, RFC 5282, RFC 7634, RFC 5903, RFC 8031).
public enum TransformID {
    public static let encrAES_CBC: UInt16 = 12
    public static let encrAES_CTR: UInt16 = 13
    public static let encr3DES: UInt16 = 3
    public static let encrAES_GCM_8: UInt16 = 18
    public static let encrAES_GCM_12: UInt16 = 19
    public static let encrAES_GCM_16: UInt16 = 20
    public static let encrCHACHA20_POLY1305: UInt16 = 28

    public static let prfHMAC_SHA1: UInt16 = 2
    public static let prfHMAC_SHA2_256: UInt16 = 5
    public static let prfHMAC_SHA2_384: UInt16 = 6
    public static let prfHMAC_SHA2_512: UInt16 = 7

    public static let integNone: UInt16 = 0
    public static let integHMAC_SHA1_96: UInt16 = 2
    public static let integHMAC_SHA2_256_128: UInt16 = 12
    public static let integHMAC_SHA2_384_192: UInt16 = 13
    public static let integHMAC_SHA2_512_256: UInt16 = 14

    public static let dhNone: UInt16 = 0

    public static let esnNo: UInt16 = 0
    public static let esnYes: UInt16 = 1

    static func name(type: TransformType, id: UInt16) -> String {
        switch (type.rawValue, id) {
        case (1, 3): return "ENCR_3DES"
        case (1, 12): return "ENCR_AES_CBC"
        case (1, 13): return "ENCR_AES_CTR"
        case (1, 18): return "ENCR_AES_GCM_8"
        case (1, 19): return "ENCR_AES_GCM_12"
        case (1, 20): return "ENCR_AES_GCM_16"
        case (1, 28): return "ENCR_CHACHA20_POLY1305"
        case (2, 1): return "PRF_HMAC_MD5"
        case (2, 2): return "PRF_HMAC_SHA1"
        case (2, 4): return "PRF_AES128_XCBC"
        case (2, 5): return "PRF_HMAC_SHA2_256"
        case (2, 6): return "PRF_HMAC_SHA2_384"
        case (2, 7): return "PRF_HMAC_SHA2_512"
        case (2, 8): return "PRF_AES128_CMAC"
        case (3, 0): return "AUTH_NONE"
        case (3, 1): return "AUTH_HMAC_MD5_96"
        case (3, 2): return "AUTH_HMAC_SHA1_96"
        case (3, 5): return "AUTH_AES_XCBC_96"
        case (3, 12): return "AUTH_HMAC_SHA2_256_128"
        case (3, 13): return "AUTH_HMAC_SHA2_384_192"
        case (3, 14): return "AUTH_HMAC_SHA2_512_256"
        case (4, 0): return "DH_NONE"
        case (4, 1): return "MODP_768"
        case (4, 2): return "MODP_1024"
        case (4, 5): return "MODP_1536"
        case (4, 14): return "MODP_2048"
        case (4, 15): return "MODP_3072"
        case (4, 16): return "MODP_4096"
        case (4, 19): return "ECP_256"
        case (4, 20): return "ECP_384"
        case (4, 21): return "ECP_521"
        case (4, 24): return "MODP_2048_256"
        case (4, 31): return "CURVE_25519"
        case (4, 32): return "CURVE_448"
        case (5, 0): return "NO_ESN"
        case (5, 1): return "ESN"
        default: return "\(type)_\(id)"
        }
    }
}

/// RFC 7296 §3.10.1 Notify Message Types.
public struct NotifyType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    // Errors (< 16384).
    public static let unsupportedCriticalPayload = NotifyType(rawValue: 1)
    public static let invalidIKESPI = NotifyType(rawValue: 4)
    public static let invalidMajorVersion = NotifyType(rawValue: 5)
    public static let invalidSyntax = NotifyType(rawValue: 7)
    public static let invalidMessageID = NotifyType(rawValue: 9)
    public static let invalidSPI = NotifyType(rawValue: 11)
    public static let noProposalChosen = NotifyType(rawValue: 14)
    public static let invalidKEPayload = NotifyType(rawValue: 17)
    public static let authenticationFailed = NotifyType(rawValue: 24)
    public static let singlePairRequired = NotifyType(rawValue: 34)
    public static let noAdditionalSAs = NotifyType(rawValue: 35)
    public static let internalAddressFailure = NotifyType(rawValue: 36)
    public static let failedCPRequired = NotifyType(rawValue: 37)
    public static let tsUnacceptable = NotifyType(rawValue: 38)
    public static let invalidSelectors = NotifyType(rawValue: 39)
    public static let temporaryFailure = NotifyType(rawValue: 43)
    public static let childSANotFound = NotifyType(rawValue: 44)
    // Status (>= 16384).
    public static let initialContact = NotifyType(rawValue: 16384)
    public static let setWindowSize = NotifyType(rawValue: 16385)
    public static let additionalTSPossible = NotifyType(rawValue: 16386)
    public static let ipcompSupported = NotifyType(rawValue: 16387)
    public static let natDetectionSourceIP = NotifyType(rawValue: 16388)
    public static let natDetectionDestinationIP = NotifyType(rawValue: 16389)
    public static let cookie = NotifyType(rawValue: 16390)
    public static let useTransportMode = NotifyType(rawValue: 16391)
    public static let httpCertLookupSupported = NotifyType(rawValue: 16392)
    public static let rekeySA = NotifyType(rawValue: 16393)
    public static let espTFCPaddingNotSupported = NotifyType(rawValue: 16394)
    public static let nonFirstFragmentsAlso = NotifyType(rawValue: 16395)
    public static let mobikeSupported = NotifyType(rawValue: 16396)
    public static let eapOnlyAuthentication = NotifyType(rawValue: 16417)
    public static let ikev2FragmentationSupported = NotifyType(rawValue: 16430)
    public static let signatureHashAlgorithms = NotifyType(rawValue: 16431)

    /// RFC 7296 §3.10.1: types below 16384 report errors.
    public var isError: Bool { rawValue < 16384 }

    public var description: String {
        switch rawValue {
        case 1: return "UNSUPPORTED_CRITICAL_PAYLOAD"
        case 4: return "INVALID_IKE_SPI"
        case 5: return "INVALID_MAJOR_VERSION"
        case 7: return "INVALID_SYNTAX"
        case 9: return "INVALID_MESSAGE_ID"
        case 11: return "INVALID_SPI"
        case 14: return "NO_PROPOSAL_CHOSEN"
        case 17: return "INVALID_KE_PAYLOAD"
        case 24: return "AUTHENTICATION_FAILED"
        case 34: return "SINGLE_PAIR_REQUIRED"
        case 35: return "NO_ADDITIONAL_SAS"
        case 36: return "INTERNAL_ADDRESS_FAILURE"
        case 37: return "FAILED_CP_REQUIRED"
        case 38: return "TS_UNACCEPTABLE"
        case 39: return "INVALID_SELECTORS"
        case 43: return "TEMPORARY_FAILURE"
        case 44: return "CHILD_SA_NOT_FOUND"
        case 16384: return "INITIAL_CONTACT"
        case 16385: return "SET_WINDOW_SIZE"
        case 16386: return "ADDITIONAL_TS_POSSIBLE"
        case 16387: return "IPCOMP_SUPPORTED"
        case 16388: return "NAT_DETECTION_SOURCE_IP"
        case 16389: return "NAT_DETECTION_DESTINATION_IP"
        case 16390: return "COOKIE"
        case 16391: return "USE_TRANSPORT_MODE"
        case 16392: return "HTTP_CERT_LOOKUP_SUPPORTED"
        case 16393: return "REKEY_SA"
        case 16394: return "ESP_TFC_PADDING_NOT_SUPPORTED"
        case 16395: return "NON_FIRST_FRAGMENTS_ALSO"
        case 16396: return "MOBIKE_SUPPORTED"
        case 16417: return "EAP_ONLY_AUTHENTICATION"
        case 16430: return "IKEV2_FRAGMENTATION_SUPPORTED"
        case 16431: return "SIGNATURE_HASH_ALGORITHMS"
        default: return "NOTIFY(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.5 ID Type.
public struct IDType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ipv4Address = IDType(rawValue: 1)
    public static let fqdn = IDType(rawValue: 2)
    public static let rfc822Address = IDType(rawValue: 3)
    public static let ipv6Address = IDType(rawValue: 5)
    public static let derASN1DN = IDType(rawValue: 9)
    public static let derASN1GN = IDType(rawValue: 10)
    public static let keyID = IDType(rawValue: 11)

    public var description: String {
        switch rawValue {
        case 1: return "ID_IPV4_ADDR"
        case 2: return "ID_FQDN"
        case 3: return "ID_RFC822_ADDR"
        case 5: return "ID_IPV6_ADDR"
        case 9: return "ID_DER_ASN1_DN"
        case 10: return "ID_DER_ASN1_GN"
        case 11: return "ID_KEY_ID"
        default: return "ID(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.8 Auth Method.
public struct AuthMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let rsaDigitalSignature = AuthMethod(rawValue: 1)
    public static let sharedKeyMIC = AuthMethod(rawValue: 2)
    public static let dssDigitalSignature = AuthMethod(rawValue: 3)
    public static let ecdsaSHA256P256 = AuthMethod(rawValue: 9)
    public static let ecdsaSHA384P384 = AuthMethod(rawValue: 10)
    public static let ecdsaSHA512P521 = AuthMethod(rawValue: 11)
    public static let digitalSignature = AuthMethod(rawValue: 14)

    public var description: String {
        switch rawValue {
        case 1: return "RSA_SIG"
        case 2: return "SHARED_KEY_MIC"
        case 3: return "DSS_SIG"
        case 9: return "ECDSA_P256"
        case 10: return "ECDSA_P384"
        case 11: return "ECDSA_P521"
        case 14: return "DIGITAL_SIGNATURE"
        default: return "AUTH(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.13.1 TS Type.
public struct TrafficSelectorType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ipv4AddressRange = TrafficSelectorType(rawValue: 7)
    public static let ipv6AddressRange = TrafficSelectorType(rawValue: 8)

    /// Address length in bytes, or nil for an unknown type.
    public var addressLength: Int? {
        switch rawValue {
        case 7: return 4
        case 8: return 16
        default: return nil
        }
    }

    public var description: String {
        switch rawValue {
        case 7: return "TS_IPV4_ADDR_RANGE"
        case 8: return "TS_IPV6_ADDR_RANGE"
        default: return "TS(\(rawValue))"
        }
    }
}

/// RFC 7296 §3.15 CFG Type and §3.15.1 attribute types.
public struct ConfigurationType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let request = ConfigurationType(rawValue: 1)
    public static let reply = ConfigurationType(rawValue: 2)
    public static let set = ConfigurationType(rawValue: 3)
    public static let ack = ConfigurationType(rawValue: 4)
}

public enum ConfigurationAttributeType {
    public static let internalIP4Address: UInt16 = 1
    public static let internalIP4Netmask: UInt16 = 2
    public static let internalIP4DNS: UInt16 = 3
    public static let internalIP6Address: UInt16 = 8
    public static let internalIP6DNS: UInt16 = 10
}
