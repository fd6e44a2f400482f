import ArgumentParser
import Foundation
import PPP
import SSTPNIO

extension P2SCommand {
    /// `vpngw p2s eap-tls-server` (hidden): one EAP-TLS authentication over stdin/stdout, for
    /// interoperability tests against independent EAP peers (Tests/netns/eap_tls_interop.sh relays
    /// it through RADIUS to wpa_supplicant's eapol_test). It runs the SSTP server's own pieces:
    /// the PPP core's EAP-TLS authenticator (`EAPTLSServerExchange` = `EAPTLSServer`), the
    /// swift-nio-ssl engine (`NIOEAPTLSEngine`) and the certificate policy
    /// (`SSTPClientCertificatePolicy`: chain to a root, thumbprint not revoked).
    struct EAPTLSServerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eap-tls-server",
            abstract: "Run one EAP-TLS server exchange over stdin/stdout (exists for interoperability testing).",
            discussion: """
            Exists only for interop tests: it speaks bare EAP (RFC 3748) with the same EAP-TLS server, TLS engine and client-certificate checks as `p2s serve` and the gateway agent, so a RADIUS shim can put an independent EAP peer (eapol_test) in front of it (Tests/netns/eap_tls_interop.sh).

            Framing, both directions: 2-byte big-endian length, then the record. Records on stdin are EAP Responses. Records on stdout are EAP packets (first byte = EAP code 1..4); the last record is a JSON object (first byte '{'): outcome ("success" or "failure"), identity, thumbprint, reason, msk (hex, 64 bytes: masterReceiveKey then masterSendKey). The outcome is also logged on stderr. Exits 0 on success, 1 on failure, 2 when --timeout expires.
            """,
            shouldDisplay: false)
        @Option(name: .customLong("root-ca"), parsing: .singleValue, help: "vpnClientRootCertificate (PEM file); repeatable.") var rootCA: [String]
        @Option(name: .customLong("server-cert"), help: "Server certificate chain (PEM, leaf first).") var serverCert: String
        @Option(name: .customLong("server-key"), help: "Server private key (PEM).") var serverKey: String
        @Option(name: .customLong("revoked"), parsing: .singleValue, help: "Revoked client thumbprint (SHA-1 hex); repeatable.") var revoked: [String] = []
        @Option(help: "Seconds the whole exchange may take.") var timeout = 30

        func run() async throws {
            let identity = try SSTPServerIdentity.load(certificateFile: serverCert, keyFile: serverKey)
            let (roots, errors) = SSTPClientCertificatePolicy.parseRoots(try rootCA.map { try String(contentsOfFile: $0, encoding: .utf8) })
            guard errors.isEmpty else { throw ValidationError(errors.joined(separator: "; ")) }
            let policy = SSTPClientCertificatePolicy(roots: roots, revoked: revoked)
            // As SSTPServer.configuration(for:refusal:) builds it for every call.
            let setup = EAPTLSServerSetup { try NIOEAPTLSEngine(serverChain: identity.certificateChain, privateKey: identity.privateKey) }
            let seconds = timeout
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
                Self.log("eap-tls-server: timeout after \(seconds) s")
                Self.write(Self.result(["outcome": "failure", "reason": "timeout after \(seconds) s"]))
                Foundation.exit(2)
            }

            var exchange = EAPTLSServerExchange(setup: setup, identifier: UInt8.random(in: 0...255))
            var thumbprint: String?
            var pending = exchange.start()
            while true {
                var outcome: [String: String]?
                while !pending.isEmpty {
                    let event = pending.removeFirst()
                    switch event {
                    case .send(let packet):
                        Self.write(packet)
                    case .verifyPeer(let chain):
                        let (verdict, leaf) = await policy.verify(chain: chain)
                        thumbprint = leaf
                        if case .refused(let reason) = verdict { Self.log("eap-tls-server: certificate refused: \(reason)") }
                        pending += exchange.verdict(verdict)
                    case .succeeded(let user, let send, let receive):
                        let msk = receive + send
                        Self.log("eap-tls-server: success identity \(user) thumbprint \(thumbprint ?? "-") (EAP identity \(exchange.peerIdentity))")
                        outcome = ["outcome": "success", "identity": user, "thumbprint": thumbprint ?? "",
                                   "msk": msk.map { String(format: "%02x", $0) }.joined()]
                    case .failed(let failure):
                        let reason: String
                        if case .certificateRefused(let why) = failure { reason = why } else { reason = "\(failure)" }
                        Self.log("eap-tls-server: failure: \(reason)")
                        outcome = ["outcome": "failure", "reason": reason, "thumbprint": thumbprint ?? ""]
                    }
                }
                if let outcome {
                    Self.write(Self.result(outcome))
                    throw ExitCode(outcome["outcome"] == "success" ? 0 : 1)
                }
                guard let packet = Self.read() else {
                    Self.log("eap-tls-server: end of input before the exchange finished")
                    throw ExitCode(1)
                }
                pending = exchange.receive(packet)
            }
        }

        static func result(_ fields: [String: String]) -> [UInt8] {
            Array((try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8))
        }

        static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

        static func write(_ record: [UInt8]) {
            FileHandle.standardOutput.write(Data([UInt8(record.count >> 8), UInt8(record.count & 0xFF)] + record))
        }

        /// One framed record from stdin; nil at end of input.
        static func read() -> [UInt8]? {
            func exactly(_ n: Int) -> [UInt8]? {
                var out: [UInt8] = []
                while out.count < n {
                    let chunk = FileHandle.standardInput.readData(ofLength: n - out.count)
                    if chunk.isEmpty { return nil }
                    out += chunk
                }
                return out
            }
            guard let header = exactly(2) else { return nil }
            return exactly(Int(header[0]) << 8 | Int(header[1]))
        }
    }
}
