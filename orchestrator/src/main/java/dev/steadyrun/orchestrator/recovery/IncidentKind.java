package dev.steadyrun.orchestrator.recovery;

/**
 * What happened to a run. Each kind names its usual cause and the ladder's incident ({@code null} for an
 * operator's action, which decides itself), and whether the node it names must leave the run.
 */
public enum IncidentKind {
    NODE_LOST(IncidentCause.HARDWARE, RemediationLadder.Incident.HARDWARE, true),
    GPU_FAULT(IncidentCause.HARDWARE, RemediationLadder.Incident.HARDWARE, true),
    /** Cause and ladder incident depend on the exit code ({@link ExitClassifier}). */
    TRAINER_CRASH(IncidentCause.USER_CODE, RemediationLadder.Incident.USER_CODE_CRASH, false),
    HANG(IncidentCause.INFRASTRUCTURE, RemediationLadder.Incident.HANG, false),
    STRAGGLER(IncidentCause.HARDWARE, RemediationLadder.Incident.STRAGGLER, true),
    DIVERGENCE(IncidentCause.DIVERGENCE, RemediationLadder.Incident.DIVERGENCE, false),
    MANUAL_RESTART(IncidentCause.OPERATOR, null, false),
    NODE_SWAP(IncidentCause.OPERATOR, null, true);

    private final IncidentCause cause;
    private final RemediationLadder.Incident ladder;
    private final boolean replacesNode;

    IncidentKind(IncidentCause cause, RemediationLadder.Incident ladder, boolean replacesNode) {
        this.cause = cause;
        this.ladder = ladder;
        this.replacesNode = replacesNode;
    }

    public IncidentCause cause() {
        return cause;
    }

    public RemediationLadder.Incident ladder() {
        return ladder;
    }

    /** The restart gives the rank of the node this incident names to another node. */
    public boolean replacesNode() {
        return replacesNode;
    }
}
