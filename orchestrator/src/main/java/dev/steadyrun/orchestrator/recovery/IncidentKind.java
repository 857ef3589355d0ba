package dev.steadyrun.orchestrator.recovery;

/**
 * What happened to a run, and whether the node it names must leave the run. Cause and ladder incident are chosen
 * per detection (a trainer crash's depend on its exit code).
 */
public enum IncidentKind {
    NODE_LOST(true),
    GPU_FAULT(true),
    TRAINER_CRASH(false),
    /** A rank could not read the checkpoint it was told to restore (exit 7): the rank moves, the checkpoint stays. */
    RESTORE_UNAVAILABLE(true),
    HANG(false),
    STRAGGLER(true),
    DIVERGENCE(false),
    MANUAL_RESTART(false),
    /**
     * A node cut off from its peers while its heartbeats still arrive (a partial partition), named by a rank's peer
     * check ({@link dev.steadyrun.protocol.PeerCheck}): its rank moves.
     */
    PEER_UNREACHABLE(true),
    NODE_SWAP(true);

    private final boolean replacesNode;

    IncidentKind(boolean replacesNode) {
        this.replacesNode = replacesNode;
    }

    /** The restart gives the rank of the node this incident names to another node. */
    public boolean replacesNode() {
        return replacesNode;
    }
}
