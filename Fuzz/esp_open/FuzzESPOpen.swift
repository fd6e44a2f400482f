// libFuzzer target for ESP decapsulation. Built together with Sources/ESP into one module by
// Fuzz/run-esp-fuzz.sh, so it reaches internal test hooks too.
//
// Input: byte 0 picks the cipher suite, byte 1 the mode and options, the rest is the packet or
// payload. Every mode checks invariants and traps when one breaks:
//   0  raw bytes (with the SA's SPI forced in when flag 0x10 is set) → open must drop or deliver
//      a range inside the packet; the SAD and the UDP classifier see the same bytes.
//   1  an authentic packet whose plaintext body (payload ‖ padding ‖ trailer) is the input:
//      exercises padding and next-header checks behind a valid ICV.
//   2  round trip of the input as an inner packet, then one corrupted byte must be dropped.

let suites = ESPCipherSuite.all
let fuzzSPI: UInt32 = 0x0BAD_CAFE
let fuzzEpoch = ContinuousClock.now

func keyMaterial(for suite: ESPCipherSuite) -> [UInt8] {
    (0..<suite.keyMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
}

func withBuffer<T>(_ bytes: some Collection<UInt8>, extra: Int = 0, _ body: (UnsafeMutableRawBufferPointer) -> T) -> T {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + extra + 1, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0)
    buffer.copyBytes(from: bytes)
    return body(buffer)
}

func checkDelivered(_ result: ESPOpenResult, packet: Range<Int>, inbound: ESPInboundSA) {
    switch result {
    case .payload(let inner, _):
        precondition(inner.lowerBound == packet.lowerBound + 8 + inbound.transform.ivLength, "inner start")
        precondition(inner.upperBound <= packet.upperBound - inbound.transform.icvLength - 2, "inner end")
    case .dropped:
        break
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzESPOpen(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let suite = suites[Int(data[0]) % suites.count]
    let options = data[1]
    let extendedSequenceNumbers = options & 0x01 != 0
    let windowSize = options & 0x02 != 0 ? 64 : 1024
    let mode = (options >> 2) & 0x03
    let input = UnsafeBufferPointer(start: data + 2, count: size - 2)
    let configuration = ESPSAConfiguration(spi: fuzzSPI, suite: suite, keyMaterial: keyMaterial(for: suite),
                                           extendedSequenceNumbers: extendedSequenceNumbers,
                                           replayWindowSize: windowSize)
    guard let outbound = try? configuration.makeOutboundSA(installedAt: fuzzEpoch),
          let inbound = try? configuration.makeInboundSA(installedAt: fuzzEpoch) else {
        fatalError("SA setup failed for \(suite)")
    }

    switch mode {
    case 0:
        var bytes = Array(input)
        if options & 0x10 != 0, bytes.count >= 4 {
            bytes[0] = 0x0B; bytes[1] = 0xAD; bytes[2] = 0xCA; bytes[3] = 0xFE
        }
        withBuffer(bytes) { buffer in
            _ = ESPUDPEncapsulation.classify(UnsafeRawBufferPointer(rebasing: buffer[..<bytes.count]))
            let result = inbound.open(buffer, packet: 0..<bytes.count)
            checkDelivered(result, packet: 0..<bytes.count, inbound: inbound)
            let database = ESPSADatabase()
            database.install(inbound)
            _ = database.open(buffer, packet: 0..<bytes.count)
            precondition(inbound.counters.drops.total + inbound.counters.packets
                         + database.drops.total == 2, "every packet is delivered or counted")
        }

    case 1:
        // Body: pad to the transform's alignment with zeros so the sealer accepts it.
        let transform = outbound.transform
        var body = Array(input)
        let minimum = max(transform.ciphertextBlockLength, 2)
        while body.count < minimum || body.count % transform.paddingAlignment != 0 { body.append(0) }
        let sequenceNumber: UInt64 = options & 0x20 != 0 ? 0x1_0000_0007 : 7
        if extendedSequenceNumbers, sequenceNumber > UInt32.max { inbound.markReceived(0x1_0000_0000) }
        var packet = [UInt8](repeating: 0, count: 8 + transform.ivLength) + body
            + [UInt8](repeating: 0, count: transform.icvLength)
        packet.withUnsafeMutableBytes { bytes in
            bytes.storeBigEndian(fuzzSPI, at: 0)
            bytes.storeBigEndian(UInt32(truncatingIfNeeded: sequenceNumber), at: 4)
            precondition(transform.seal(packet: bytes, sequenceNumber: sequenceNumber,
                                        extendedSequenceNumbers: extendedSequenceNumbers), "seal")
        }
        withBuffer(packet) { buffer in
            let result = inbound.open(buffer, packet: 0..<packet.count)
            checkDelivered(result, packet: 0..<packet.count, inbound: inbound)
            let padLength = Int(body[body.count - 2])
            let nextHeader = body[body.count - 1]
            let payloadLength = body.count - 2 - padLength
            let paddingValid = payloadLength >= 0
                && (0..<padLength).allSatisfy { body[payloadLength + $0] == UInt8(truncatingIfNeeded: $0 + 1) }
            let expected: ESPOpenResult
            if sequenceNumber > UInt32.max && !extendedSequenceNumbers {
                expected = result   // low half 7 under a non-ESN SA: seq 7, ICV fails or passes by construction
            } else if nextHeader == ESPNextHeader.dummyPacket {
                expected = .dropped(.dummyPacket)
            } else if !paddingValid {
                expected = .dropped(.badPadding)
            } else if let header = ESPNextHeader(rawValue: nextHeader) {
                let start = 8 + transform.ivLength
                expected = .payload(start..<start + payloadLength, header)
            } else {
                expected = .dropped(.unsupportedNextHeader)
            }
            precondition(result == expected, "trailer handling: \(result) != \(expected)")
            if case .payload(let inner, _) = result {
                precondition(Array(buffer[inner]) == Array(body.prefix(payloadLength)), "plaintext")
            }
        }

    default:
        let payload = Array(input)
        let headroom = outbound.headroom + 28
        let capacity = headroom + payload.count + outbound.maximumTailroom
        withBuffer([UInt8](repeating: 0, count: capacity)) { buffer in
            for (offset, byte) in payload.enumerated() { buffer[headroom + offset] = byte }
            let payloadRange = headroom..<headroom + payload.count
            guard case .sealed(let packet) = outbound.seal(buffer, payload: payloadRange, nextHeader: .ipv6) else {
                fatalError("seal refused")
            }
            let sealedCopy = Array(buffer[packet])
            let result = inbound.open(buffer, packet: packet)
            precondition(result == .payload(payloadRange, .ipv6), "round trip result \(result)")
            precondition(Array(buffer[payloadRange]) == payload, "round trip bytes")
            // Corrupt one byte after the SPI (position from the input) in a fresh copy of the packet.
            var corrupted = sealedCopy
            let position = 4 + (payload.first.map(Int.init) ?? 0) % (corrupted.count - 4)
            corrupted[position] ^= 0x01
            let replayedResult = withBuffer(corrupted) { inbound.open($0, packet: 0..<corrupted.count) }
            switch replayedResult {
            case .dropped: break
            case .payload: preconditionFailure("corrupted byte \(position) accepted")
            }
        }
    }
    return 0
}
