// libFuzzer entry for the SSTP codec and HTTP hello parser (Sources/SSTP/Wire compiled into
// this module; they import nothing). Properties checked on every input:
//  1. parsing never traps: any input yields a packet or an SSTPParseError;
//  2. a parsed packet survives emit → parse unchanged (emitter and parser agree);
//  3. the stream decoder, fed the input in two pieces, never traps and never buffers more than
//     one partial packet beyond what it was given;
//  4. the HTTP head finder and request/response checks never trap.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSTPParse(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    if let packet = try? SSTPPacket.parse(bytes) {
        let emitted = packet.emit()
        guard let reparsed = try? SSTPPacket.parse(emitted) else { fatalError("emitted packet does not parse") }
        guard reparsed == packet else { fatalError("emit/parse round trip changed the packet") }
        guard emitted.count <= SSTPLimits.maxPacket else { fatalError("emitted packet too long") }
    }

    var decoder = SSTPStreamDecoder()
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    decoder.append(bytes[..<split])
    var packets = 0
    do {
        while let _ = try decoder.next() { packets += 1 }
        decoder.append(bytes[split...])
        while let _ = try decoder.next() { packets += 1 }
        guard decoder.bufferedBytes < SSTPLimits.maxPacket || decoder.bufferedBytes <= bytes.count else {
            fatalError("decoder holds more than one partial packet")
        }
    } catch {
        // A structured refusal is the expected outcome for most inputs.
    }

    if let length = try? SSTPHTTP.headLength(bytes) {
        _ = try? SSTPHTTP.parseRequest(Array(bytes[..<length]))
        _ = try? SSTPHTTP.checkResponse(Array(bytes[..<length]))
    }
    return 0
}
