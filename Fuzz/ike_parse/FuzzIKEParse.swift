// libFuzzer entry for the IKE message parser (Sources/IKE/Wire compiled into this module).
// Properties checked on every input:
//  1. parsing never traps: any input yields a message or an IKEParseError;
//  2. a parsed message survives emit → parse unchanged (the emitter and parser agree);
//  3. an inner chain (first byte = first payload type) parses or fails with an error, and a
//     parsed inner chain runs through every row of the validity table without trapping.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIKEParse(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    if let message = try? IKEMessage.parse(bytes) {
        let emitted = message.emit()
        guard let reparsed = try? IKEMessage.parse(emitted) else {
            fatalError("emitted message does not parse: \(hexString(emitted))")
        }
        guard reparsed.payloads == message.payloads, reparsed.header.messageID == message.header.messageID else {
            fatalError("emit/parse round trip changed the message")
        }
    }

    if let first = bytes.first {
        var reader = ByteReader(Array(bytes.dropFirst()))
        if let payloads = try? PayloadChain.parse(first: PayloadType(rawValue: first), &reader) {
            for exchange in MessageRules.knownExchanges {
                _ = try? MessageRules.validateInner(exchange: exchange, isResponse: false, payloads: payloads)
                _ = try? MessageRules.validateInner(exchange: exchange, isResponse: true, payloads: payloads)
                _ = try? MessageRules.validateOuter(exchange: exchange, isResponse: true, payloads: payloads)
            }
            var again = ByteReader(PayloadChain.emit(payloads))
            guard let reparsed = try? PayloadChain.parse(first: payloads.first?.type ?? .none, &again),
                  reparsed == payloads else {
                fatalError("payload chain round trip changed the payloads")
            }
        }
    }
    return 0
}
