import ESP
import Foundation
import IKE

/// One complete IKE_SA_INIT + IKE_AUTH between two in-memory peers, plus an ESP seal/open, with a
/// tunnel's first suites — run once when the service starts.
///
/// Why: the first negotiation of a fresh process otherwise pays every lazy initialisation on its
/// critical path (OpenSSL provider and cipher fetches, the curve and hash tables, Swift metadata),
/// which measured as several milliseconds of a ~10 ms tunnel setup. Doing it before the first
/// IKE_SA_INIT leaves only the real work (two round trips and their crypto) for the peer to wait
/// on. Nothing here touches the network or any tunnel's state.
enum CryptoWarmUp {
    /// Returns how long it took (for the log).
    @discardableResult
    static func run(ike: IKECipherSuite, child: ChildCipherSuite, random: any RandomSource) -> Duration {
        let started = ContinuousClock.now
        let a = IKEEndpoint(address: [192, 0, 2, 1]), b = IKEEndpoint(address: [192, 0, 2, 2])
        let psk = Array("warm-up".utf8)
        var initiator = IKESA(role: .initiator, configuration: IKEPeerConfiguration(
            local: a, remote: b, preSharedKey: psk, ikeSuites: [ike], childSuites: [child], trafficSelectors: .routeBased), random: random)
        var responder = IKESA(role: .responder, configuration: IKEPeerConfiguration(
            local: b, remote: a, preSharedKey: psk, ikeSuites: [ike], childSuites: [child], trafficSelectors: .routeBased), random: random)
        let now = IKEInstant.zero
        var toResponder: [[UInt8]] = [], toInitiator: [[UInt8]] = []
        var installed: ChildSAInstallation?
        func collect(_ actions: [IKESAAction], into wire: inout [[UInt8]]) {
            for action in actions {
                switch action {
                case .send(let bytes): wire.append(bytes)
                case .installChildSA(let c): if installed == nil { installed = c }
                default: break
                }
            }
        }
        collect(initiator.handle(.start, now: now), into: &toResponder)
        // Two exchanges; the bound only guards against a core that keeps talking.
        for _ in 0..<8 where !(toResponder.isEmpty && toInitiator.isEmpty) {
            for m in toResponder { collect(responder.handle(.received(m), now: now), into: &toInitiator) }
            toResponder.removeAll()
            for m in toInitiator { collect(initiator.handle(.received(m), now: now), into: &toResponder) }
            toInitiator.removeAll()
        }
        if let c = installed, let suite = ESPCipherSuite(c.suite) {
            let outbound = ESPSAConfiguration(spi: c.outboundSPI, suite: suite, keyMaterial: c.outboundKeys.encryptionKey + c.outboundKeys.integrityKey)
            let inbound = ESPSAConfiguration(spi: c.outboundSPI, suite: suite, keyMaterial: c.outboundKeys.encryptionKey + c.outboundKeys.integrityKey)
            if let seal = try? outbound.makeOutboundSA(installedAt: .now), let open = try? inbound.makeInboundSA(installedAt: .now) {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
                defer { buffer.deallocate() }
                buffer.initializeMemory(as: UInt8.self, repeating: 0x45)
                if case .sealed(let range) = seal.seal(buffer, payload: 64..<164, nextHeader: .ipv4) {
                    _ = open.open(buffer, packet: range)
                }
            }
        }
        return ContinuousClock.now - started
    }
}
