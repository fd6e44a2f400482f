import ArgumentParser
import DataPlane
import Foundation
import GatewayModel
import IKE
import Tunnels

/// `vpngw bench ike`: IKE_SA+CHILD_SA setups per second. The initiator side starts `--peers`
/// tunnel definitions at once from one address; the responder side (`--respond`, another
/// process, usually another namespace) answers them all with one responder definition for that
/// peer address (TunnelService keeps any number of IKE SAs per definition). The rate is
/// N / (time from handing the definitions to the IKE queue until the last CHILD SA is installed).
struct BenchIKE: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ike", abstract: "IKE_SA+CHILD_SA setups per second between two vpngw processes.",
        shouldDisplay: false)
    @Option(help: "Our address (IKE on UDP 500/4500 bound to it).") var local: String
    @Option(help: "The other side's address.") var peer: String
    @Option(help: "Tunnels to set up at once (initiator side).") var peers = 200
    @Option(help: "IKE proposal, strongSwan-style (e.g. aes128gcm16-prfsha256-ecp256).") var proposal = "aes128gcm16-prfsha256-x25519"
    @Option(help: "ESP proposal.") var esp = "aes128gcm16"
    @Option(help: "Pre-shared key.") var psk = "vpngw-bench-ike-psk-0123456789"
    @Flag(help: "Be the responder (runs until SIGINT/SIGTERM).") var respond = false
    @Option(help: "Responder: half-open SAs at which cookies are demanded (RFC 7296 §2.6).") var cookieThreshold = 50
    @Option(help: "Initiator: give up after this many seconds.") var timeout = 60
    @Option(help: "TUN device name pattern.") var tunName = "vgbench%d"

    func run() async throws {
        guard let localAddress = IPv4.parse(local) else { throw ValidationError("--local '\(local)' is not an IPv4 address") }
        guard let peerAddress = IPv4.parse(peer) else { throw ValidationError("--peer '\(peer)' is not an IPv4 address") }
        let ikeSuite: IKECipherSuite, childSuite: ChildCipherSuite
        do {
            ikeSuite = try ProposalName.ike(proposal)
            childSuite = try ProposalName.esp(esp)
        } catch { throw ValidationError(error.description) }
        let plane = DataPlane(DataPlane.Configuration(tunName: tunName, localAddress: localAddress))
        let service = TunnelService(plane: plane, cookieThreshold: cookieThreshold)
        func definition(_ id: Int, _ mode: TunnelDefinition.Mode) -> TunnelDefinition {
            TunnelDefinition(id: id, name: "bench\(id)", localAddress: localAddress, peerAddress: peerAddress,
                             preSharedKey: Array(psk.utf8), remotePrefixes: [], ikeSuites: [ikeSuite], childSuites: [childSuite],
                             mode: mode, dpdTimeout: .seconds(3600), childRekeyAfter: nil, ikeRekeyAfter: nil)
        }
        if respond {
            try service.start([definition(1, .responderOnly)])
            emit("bench ike responder ready on \(local) for \(peer) (\(proposal), esp \(esp), cookie threshold \(cookieThreshold))")
            _ = await waitForTermination(every: 0) {}
            let st = service.ikeResponderStats
            let log = service.status(1)?.logCount ?? 0
            emit("bench ike responder at exit: \(log) log lines, half-open \(st.halfOpen) (peak \(st.halfOpenPeak)), cookies demanded \(st.cookiesDemanded), accepted \(st.cookiesAccepted)")
            service.stop()
            return
        }
        try service.start([])
        let n = peers
        let definitions = (1...n).map { definition($0, .initiatorOnly) }
        let wallStart = Date()
        let t0 = ContinuousClock.now
        service.upsert(definitions)
        var connected = 0
        while ContinuousClock.now - t0 < .seconds(timeout) {
            try await Task.sleep(for: .milliseconds(10))
            connected = service.statuses.values.reduce(0) { $0 + ($1.state == .connected ? 1 : 0) }
            if connected == n { break }
        }
        let polled = ContinuousClock.now - t0
        let statuses = service.statuses
        // The last CHILD SA's own timestamp is more precise than the 10 ms poll.
        let last = statuses.values.compactMap(\.establishedAt).max()
        let elapsed = last.map { $0.timeIntervalSince(wallStart) } ?? polled.milliseconds / 1000
        let setups = statuses.values.compactMap(\.setupDuration).map(\.milliseconds).sorted()
        let cookieRetries = statuses.values.filter { $0.log.contains { $0.hasSuffix("peer demanded a cookie; retrying") } }.count
        service.stop()
        guard connected == n else {
            let reasons = Dictionary(grouping: statuses.values.compactMap(\.reason), by: { $0 }).map { "\($0.value.count)× \($0.key)" }
            emit("bench ike: only \(connected) of \(n) tunnels up after \(timeout) s; \(reasons.joined(separator: "; "))")
            throw ExitCode(1)
        }
        let p = { (q: Double) in setups.isEmpty ? 0 : setups[min(setups.count - 1, Int(q * Double(setups.count - 1) + 0.5))] }
        let f = { (v: Double, d: Int) in String(format: "%.\(d)f", v) }
        emit("bench ike: \(n) IKE_SA+CHILD_SA (\(proposal), esp \(esp)) in \(f(elapsed, 3)) s => \(f(Double(n) / elapsed, 1)) tunnels/s; "
             + "per tunnel IKE_SA_INIT→CHILD installed p50 \(f(p(0.5), 1)) ms p99 \(f(p(0.99), 1)) ms; \(cookieRetries) needed a cookie retry")
        emit("RATE vpngw-ike \(proposal) \(n) \(f(Double(n) / elapsed, 1)) \(f(elapsed, 3))")
    }
}
