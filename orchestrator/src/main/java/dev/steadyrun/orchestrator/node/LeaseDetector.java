package dev.steadyrun.orchestrator.node;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;

import dev.steadyrun.protocol.LeaseTimings;

/**
 * Decides, from the leases alone, which nodes a sweep at {@code now} must move. Pure: no clock, no database, so
 * it is tested with plain instants. {@link LeaseSweeper} applies the plan. Each node is judged by the timings it
 * was last handed ({@link LeaseRecord#timings}): with the adaptive interval, nodes may hold different ones.
 *
 * <p>Mass-failure guard (after Kubernetes' node lifecycle controller): when more than
 * {@code massFailureThreshold} of a fleet of at least {@code massFailureMinFleet} watched nodes is silent at
 * once, it is more likely that the orchestrator is cut off than that the nodes died, so no node is moved for
 * silence; the plan opens a fleet incident instead, and closes it when the silent share falls back under the
 * threshold (then normal handling resumes in the same sweep). Registrations that were never heard from are not
 * counted: their silence says nothing about a partition, and a flood of fake names must not trip the guard (which
 * would stop every real node from being failed).
 */
public final class LeaseDetector {

    /** One state change for silence; {@code silentSince} is the lease base, for the detection-latency metric. */
    public record Move(UUID nodeId, NodeState from, NodeState to, String reason, Instant silentSince) {
    }

    public enum IncidentAction { NONE, OPEN, CLOSE }

    public record Plan(List<Move> moves, IncidentAction incident, int fleetSize, int silentNodes) {
    }

    private final double massFailureThreshold;
    private final int massFailureMinFleet;

    public LeaseDetector(double massFailureThreshold, int massFailureMinFleet) {
        this.massFailureThreshold = massFailureThreshold;
        this.massFailureMinFleet = massFailureMinFleet;
    }

    public Plan plan(Collection<LeaseRecord> records, Instant now, boolean incidentOpen) {
        List<Move> moves = new ArrayList<>();
        int fleet = 0;
        int silent = 0;
        for (LeaseRecord r : records) {
            NodeState state = r.state;
            if (!state.watched()) {
                continue;
            }
            boolean heardFrom = r.lastSeen != null;
            if (heardFrom) {
                fleet++;
            }
            LeaseTimings timings = r.timings;
            Instant base = r.leaseBase();
            Duration quiet = Duration.between(base, now);
            if (state == NodeState.REGISTERED) {
                if (quiet.compareTo(timings.neverReportedGrace()) > 0) {
                    if (heardFrom) {
                        silent++;
                    }
                    moves.add(new Move(r.nodeId, state, NodeState.FAILED, "no first heartbeat within "
                            + timings.neverReportedGrace().toSeconds() + " s of registering", base));
                }
                continue;
            }
            if (!r.leaseExpired(now)) {
                continue;
            }
            if (heardFrom) {
                silent++;
            }
            boolean pastGrace = quiet.compareTo(timings.leaseDuration().plus(timings.quietGrace())) > 0;
            if (state == NodeState.HEALTHY || state == NodeState.SPARE) {
                moves.add(new Move(r.nodeId, state, NodeState.SUSPECT, "lease expired: no heartbeat for "
                        + quiet.toMillis() + " ms (lease " + timings.leaseDuration().toMillis() + " ms)", base));
            } else if (pastGrace && (state == NodeState.SUSPECT || state.operatorHeld())) {
                moves.add(new Move(r.nodeId, state, NodeState.FAILED, "silent for " + quiet.toMillis()
                        + " ms: lease and quiet grace expired", base));
            }
        }
        boolean massSilence = fleet >= massFailureMinFleet && silent > massFailureThreshold * fleet;
        if (massSilence) {
            return new Plan(List.of(), incidentOpen ? IncidentAction.NONE : IncidentAction.OPEN, fleet, silent);
        }
        return new Plan(moves, incidentOpen ? IncidentAction.CLOSE : IncidentAction.NONE, fleet, silent);
    }
}
