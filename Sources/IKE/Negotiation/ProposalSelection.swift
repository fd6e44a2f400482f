// Proposal selection (RFC 7296 §2.7, §3.3.6): the responder picks one of the initiator's proposals
// and, for each transform type in it, one transform both sides offered. When nothing fits, the
// result says why, transform type by transform type, in words an operator can act on.

public struct ProposalSelectionOptions: Hashable, Sendable {
    /// IKE_AUTH carries no KE payload, so a DH transform in SAi2 is ignored there (RFC 7296 §1.2).
    public var ignoreKeyExchange: Bool
    /// RFC 7296 §3.3.3 allows omitting ESN; treat a missing ESN transform as "no ESN".
    public var missingESNMeansNo: Bool

    public init(ignoreKeyExchange: Bool = false, missingESNMeansNo: Bool = true) {
        self.ignoreKeyExchange = ignoreKeyExchange
        self.missingESNMeansNo = missingESNMeansNo
    }
}

/// Why one of our proposals and one of theirs did not fit.
public struct ProposalComparison: Error, Hashable, Sendable, CustomStringConvertible {
    public struct TypeMismatch: Hashable, Sendable {
        public var type: TransformType
        public var ours: [Transform]
        public var theirs: [Transform]
    }

    public var ourProposal: Proposal
    public var theirProposal: Proposal
    /// Set when the protocols differ (IKE against ESP, ...).
    public var protocolMismatch: Bool
    public var mismatches: [TypeMismatch]

    public var description: String {
        if protocolMismatch {
            return "our \(ourProposal.protocolID) proposal vs their \(theirProposal.protocolID) proposal #\(theirProposal.number)"
        }
        let reasons = mismatches.map { mismatch -> String in
            let ours = mismatch.ours.isEmpty ? "none" : mismatch.ours.map(\.description).joined(separator: ", ")
            let theirs = mismatch.theirs.isEmpty ? "none" : mismatch.theirs.map(\.description).joined(separator: ", ")
            return "no common \(mismatch.type) (we: \(ours); they: \(theirs))"
        }
        return "their proposal #\(theirProposal.number): " + reasons.joined(separator: "; ")
    }
}

/// NO_PROPOSAL_CHOSEN, explained.
public struct ProposalMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    public var ours: [Proposal]
    public var theirs: [Proposal]
    /// Every pair compared, our preference order first.
    public var comparisons: [ProposalComparison]

    /// The comparison with the fewest mismatching transform types: the "closest miss".
    public var closest: ProposalComparison? {
        comparisons.filter { !$0.protocolMismatch }.min { $0.mismatches.count < $1.mismatches.count }
            ?? comparisons.first
    }

    public var description: String {
        func list(_ proposals: [Proposal]) -> String {
            proposals.map { proposal in
                proposal.transforms.sorted { $0.type < $1.type }.map(\.description).joined(separator: ", ")
            }.joined(separator: " | ")
        }
        var text = "no proposal chosen: we offered \(list(ours)); they offered \(list(theirs))"
        if let closest { text += "; closest: \(closest)" }
        return text
    }
}

public enum ProposalSelection {
    /// Picks from `theirs` (the initiator's offer) by our preference order: our first proposal
    /// that fits any of theirs wins, and within a type our first transform they also offered.
    /// The result keeps their proposal number and SPI, one transform per type.
    public static func select(ours: [Proposal], theirs: [Proposal],
                              options: ProposalSelectionOptions = ProposalSelectionOptions()) -> Result<Proposal, ProposalMismatch> {
        var comparisons: [ProposalComparison] = []
        for ourProposal in ours {
            for theirProposal in theirs {
                switch match(ours: ourProposal, theirs: theirProposal, options: options) {
                case let .success(chosen):
                    return .success(chosen)
                case let .failure(comparison):
                    comparisons.append(comparison)
                }
            }
        }
        return .failure(ProposalMismatch(ours: ours, theirs: theirs, comparisons: comparisons))
    }

    /// For the initiator: checks that the responder's single proposal is one we offered
    /// (RFC 7296 §2.7: it must contain exactly one transform per type, all from our offer).
    public static func verifyResponse(offered: [Proposal], chosen: Proposal,
                                      options: ProposalSelectionOptions = ProposalSelectionOptions()) -> Result<Proposal, ProposalMismatch> {
        let types = Set(chosen.transforms.map(\.type))
        let onePerType = types.count == chosen.transforms.count
        if onePerType, let ours = offered.first(where: { $0.number == chosen.number }) ?? offered.first {
            if case .success = match(ours: ours, theirs: chosen, options: options) {
                return .success(chosen)
            }
        }
        return select(ours: offered, theirs: [chosen], options: options)
    }

    static func relevantTypes(_ proposal: Proposal, options: ProposalSelectionOptions) -> [TransformType] {
        var types: [TransformType] = []
        for transform in proposal.transforms where !types.contains(transform.type) {
            if options.ignoreKeyExchange && transform.type == .keyExchange { continue }
            types.append(transform.type)
        }
        return types
    }

    /// The transforms of `type` that count for matching: DH NONE and INTEG NONE mean "absent";
    /// a missing ESN can mean "no ESN".
    static func effective(_ proposal: Proposal, _ type: TransformType, options: ProposalSelectionOptions) -> [Transform] {
        var transforms = proposal.transforms(ofType: type).filter { !$0.hasUnknownAttributes }
        if type == .keyExchange || type == .integrity {
            transforms = transforms.filter { $0.id != 0 }
        }
        if type == .extendedSequenceNumbers && transforms.isEmpty && options.missingESNMeansNo {
            transforms = [Transform(type: .extendedSequenceNumbers, id: TransformID.esnNo)]
        }
        return transforms
    }

    static func match(ours: Proposal, theirs: Proposal,
                      options: ProposalSelectionOptions) -> Result<Proposal, ProposalComparison> {
        guard ours.protocolID == theirs.protocolID else {
            return .failure(ProposalComparison(ourProposal: ours, theirProposal: theirs, protocolMismatch: true, mismatches: []))
        }
        var types = relevantTypes(ours, options: options)
        for type in relevantTypes(theirs, options: options) where !types.contains(type) { types.append(type) }
        var chosen: [Transform] = []
        var mismatches: [ProposalComparison.TypeMismatch] = []
        for type in types.sorted() {
            let ourTransforms = effective(ours, type, options: options)
            let theirTransforms = effective(theirs, type, options: options)
            if ourTransforms.isEmpty && theirTransforms.isEmpty { continue }
            if let pick = ourTransforms.first(where: { our in theirTransforms.contains { $0.matches(our) } }) {
                chosen.append(pick)
            } else {
                mismatches.append(.init(type: type, ours: ourTransforms, theirs: theirTransforms))
            }
        }
        guard mismatches.isEmpty else {
            return .failure(ProposalComparison(ourProposal: ours, theirProposal: theirs, protocolMismatch: false,
                                               mismatches: mismatches))
        }
        return .success(Proposal(number: theirs.number, protocolID: theirs.protocolID, spi: theirs.spi, transforms: chosen))
    }
}
