package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.steadyrun.soak.Invariants.Name;

class InvariantsTest {

    private final Invariants inv = new Invariants(1.0);

    @Test
    void aCleanRestartBreaksNothing() {
        inv.launched(0, 1, 0, null, Set.of());
        inv.checkpointWritten(50, 1, 8);
        inv.checkpointWritten(100, 1, 8);
        inv.reportAccepted(1, 1, 0, 1);
        inv.launched(2, 2, 0, 100L, Set.of());
        inv.launched(2, 2, 1, 100L, Set.of());
        inv.reportAccepted(3, 2, 1, 2);
        assertThat(inv.violations()).isEmpty();
    }

    @Test
    void anOldGenerationsReportAcceptedAfterANewOneLaunchedIsTwoGenerations() {
        inv.launched(0, 1, 0, null, Set.of());
        inv.launched(5, 2, 0, null, Set.of());
        inv.reportAccepted(6, 1, 3, 1); // sent before generation 2 launched: fine
        inv.reportAccepted(6, 1, 3, 2);
        inv.launched(7, 3, 1, null, Set.of("soak-4@2"));
        assertThat(inv.counts()).containsEntry(Name.TWO_GENERATIONS, 2);
    }

    @Test
    void removedCorruptUnknownAndAbandonedCheckpointsAreForbidden() {
        inv.launched(0, 1, 0, null, Set.of());
        for (long s = 50; s <= 300; s += 50) {
            inv.checkpointWritten(s, 1, 8);
        }
        inv.checkpointRemoved(50);
        inv.checkpointRefusedCorrupt(300);
        inv.launched(1, 2, 0, 50L, Set.of());   // removed
        inv.launched(2, 3, 0, 300L, Set.of());  // refused as corrupt before
        inv.launched(3, 4, 0, 999L, Set.of());  // never reported
        inv.launched(4, 5, 0, 150L, Set.of());  // a rollback: once it steps, 200 and 250 of generation 1 are abandoned
        inv.stepped(5);
        inv.launched(5, 6, 0, 250L, Set.of());  // the abandoned branch
        assertThat(inv.counts()).containsEntry(Name.FORBIDDEN_RESTORE, 4);
        assertThat(inv.violations()).extracting(Invariants.Violation::detail)
                .anySatisfy(d -> assertThat(d).contains("removed"))
                .anySatisfy(d -> assertThat(d).contains("refused as corrupt"))
                .anySatisfy(d -> assertThat(d).contains("never reported"))
                .anySatisfy(d -> assertThat(d).contains("abandoned"));
    }

    @Test
    void afterADivergenceOnlyAHealthyCheckpointBeforeTheOnsetWillDoUntilAGenerationStepsFromOne() {
        inv.launched(0, 1, 0, null, Set.of());
        inv.checkpointWritten(100, 1, 4);
        inv.checkpointWritten(150, 1, 0.5);     // written during the collapse
        inv.divergenceOnset(148);
        inv.launched(1, 2, 0, 150L, Set.of());   // after the onset
        inv.launched(2, 3, 0, 100L, Set.of());   // fine
        inv.stepped(3);
        inv.checkpointWritten(150, 3, 8);        // the new timeline writes 150 again: usable
        inv.launched(3, 4, 0, 150L, Set.of());
        assertThat(inv.counts()).containsEntry(Name.FORBIDDEN_RESTORE, 1);
        assertThat(inv.violations().get(0).detail()).contains("onset 148");
    }

    @Test
    void ranksOfOneGenerationMustRestoreTheSameStep() {
        inv.launched(0, 1, 0, null, Set.of());
        inv.checkpointWritten(50, 1, 8);
        inv.checkpointWritten(100, 1, 8);
        inv.launched(1, 2, 0, 100L, Set.of());
        inv.launched(1, 2, 1, 50L, Set.of());
        assertThat(inv.counts()).containsEntry(Name.FORBIDDEN_RESTORE, 1);
    }

    @Test
    void heartbeatP99AtOrOverTheLimitIsBroken() {
        inv.heartbeatP99(0, 49.9, 50, "minute 1");
        inv.heartbeatP99(0, 50, 50, "minute 2");
        assertThat(inv.counts()).containsOnlyKeys(Name.HEARTBEAT_P99).containsEntry(Name.HEARTBEAT_P99, 1);
    }

    @Test
    void anUnsettledIncidentSaysHowLongItWasOpenOrThatTheSoakEndedWithIt() {
        inv.incidentUnsettled(900, 7, "NODE_LOST", "RECOVERING", 901.4);
        inv.incidentUnsettled(1200, 8, "DIVERGENCE", "NEEDS_HUMAN", Double.NaN);
        assertThat(inv.violations()).extracting(Invariants.Violation::detail).containsExactly(
                "incident #7 (NODE_LOST) still RECOVERING after 901 s",
                "incident #8 (DIVERGENCE) still NEEDS_HUMAN at the end of the soak");
        assertThat(inv.counts()).containsOnlyKeys(Name.INCIDENT_NOT_TERMINAL);
    }
}
