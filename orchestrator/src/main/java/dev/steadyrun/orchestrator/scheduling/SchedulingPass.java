package dev.steadyrun.orchestrator.scheduling;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import javax.sql.DataSource;

import jakarta.persistence.EntityManager;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.TransactionStatus;
import org.springframework.transaction.support.TransactionTemplate;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.node.NodeState;
import dev.steadyrun.orchestrator.checkpoint.Checkpoints;
import dev.steadyrun.orchestrator.program.Programs;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunSpec;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunStateMachine;
import dev.steadyrun.protocol.RestartKnobs;
import tools.jackson.databind.ObjectMapper;

/**
 * The scheduling pass: settles stopping runs whose nodes all stopped, restarts recovering runs whose old
 * generation stopped ({@link RestartPlacer}), then gang-places pending runs oldest first (a run that does
 * not fit lets smaller ones behind it go; one that fails to be placed is rolled back to a savepoint, or skipped by a
 * rerun of the pass when its failure cost the transaction, and noted on the run, so it never stops the others). One
 * transaction-scoped PostgreSQL advisory lock makes it single-flight across orchestrator replicas, and the
 * placement table's unique index on active nodes backs that up: a node is never placed twice.
 */
@Component
class SchedulingPass {

    /** The advisory lock key of the pass ("steadyrn" in ASCII). */
    static final long LOCK_KEY = 0x73746561647972_6EL;
    static final String ACTOR = "system:scheduler";

    private static final Logger log = LoggerFactory.getLogger(SchedulingPass.class);

    private final RunRepository runs;
    private final RunStateMachine stateMachine;
    private final Placements placements;
    private final Generations generations;
    private final RestartPlacer restarts;
    private final Checkpoints checkpoints;
    private final NodeRegistry nodes;
    private final NodeDirectives directives;
    private final Programs programs;
    private final JdbcTemplate jdbc;
    private final ObjectMapper json;
    private final TransactionTemplate tx;
    private final EntityManager entityManager;
    private final DataSource dataSource;
    private final Clock clock;

    SchedulingPass(RunRepository runs, RunStateMachine stateMachine, Placements placements, Generations generations,
                   RestartPlacer restarts, Checkpoints checkpoints, NodeRegistry nodes, NodeDirectives directives,
                   Programs programs, JdbcTemplate jdbc, ObjectMapper json, PlatformTransactionManager transactions,
                   EntityManager entityManager, DataSource dataSource, Clock clock) {
        this.runs = runs;
        this.stateMachine = stateMachine;
        this.placements = placements;
        this.generations = generations;
        this.restarts = restarts;
        this.checkpoints = checkpoints;
        this.nodes = nodes;
        this.directives = directives;
        this.programs = programs;
        this.jdbc = jdbc;
        this.json = json;
        this.tx = new TransactionTemplate(transactions);
        this.tx.setPropagationBehavior(TransactionDefinition.PROPAGATION_REQUIRES_NEW);
        this.entityManager = entityManager;
        this.dataSource = dataSource;
        this.clock = clock;
    }

    /**
     * One pass in one transaction; false when another replica holds the lock. Callers serialize passes of this
     * replica ({@link SchedulingLoop}). A run whose placement failed in a way that cost the transaction (a database
     * error inside a repository call marks it rollback-only, and neither Spring nor Hibernate can clear that mark)
     * rolls the pass back; the pass is then run again without that run, which is noted as failing to place, so one
     * poisoned run never blocks the others. A later pass tries it again.
     */
    boolean run() {
        Map<UUID, String> poisoned = new HashMap<>();
        // Drained once, by the first try that holds the lock: a rerun must not lose them.
        AtomicReference<Set<NodeDirectives.StopConfirmed>> stops = new AtomicReference<>();
        while (true) {
            try {
                return Boolean.TRUE.equals(tx.execute(status -> {
                    if (!Boolean.TRUE.equals(jdbc.queryForObject("select pg_try_advisory_xact_lock(?)",
                            Boolean.class, LOCK_KEY))) {
                        return false;
                    }
                    if (stops.get() == null) {
                        stops.set(directives.drainStopsConfirmed());
                    }
                    Instant now = clock.instant();
                    settleStops(now, stops.get());
                    restarts.placeDue(now);
                    placePending(now, status, poisoned);
                    return true;
                }));
            } catch (PoisonedPass e) {
                // Each retry skips one more run than the last, so the retries end with the pending runs.
                if (poisoned.putIfAbsent(e.runId, e.failure) != null) {
                    throw new IllegalStateException("run " + e.runId + " poisoned a pass that skipped it", e);
                }
                log.warn("Run {}: placement failed and lost the pass's transaction; the pass runs again without it",
                        e.runId, e.getCause());
            }
        }
    }

    private void settleStops(Instant now, Set<NodeDirectives.StopConfirmed> stops) {
        for (NodeDirectives.StopConfirmed stop : stops) {
            placements.release(stop.runId(), stop.nodeId(), stop.generation(), now);
        }
        List<Run> stopping = new ArrayList<>(runs.findInStateOldestFirst(RunState.PAUSING));
        stopping.addAll(runs.findInStateOldestFirst(RunState.CANCELLING));
        for (Run r : stopping) {
            releaseSpares(r.getId(), now);
            for (Placements.Row row : placements.active(r.getId())) {
                if (nodes.state(row.nodeId()) == NodeState.FAILED) { // a dead node cannot confirm; nothing runs there
                    placements.release(r.getId(), row.nodeId(), row.generation(), now);
                }
            }
            if (placements.active(r.getId()).isEmpty()) {
                settle(r, r.getState() == RunState.PAUSING ? RunState.PAUSED : RunState.CANCELLED,
                        "every node stopped its trainer");
            }
        }
        List<Run> live = runs.findLiveOldestFirst();
        for (Run r : live) {
            // In a live run only a finished trainer releases its rank: no rank left means every one finished.
            if (placements.active(r.getId()).stream().noneMatch(row -> row.rank() != null)) {
                settle(r, RunState.SUCCEEDED, "every rank finished (exit 0)");
                releaseSpares(r.getId(), now);
            }
        }
    }

    private void settle(Run seen, RunState target, String reason) {
        Run locked = runs.findForUpdate(seen.getId()).orElseThrow();
        if (locked.getState() == seen.getState()) {
            stateMachine.transition(locked, target, reason, ACTOR);
        }
    }

    /** Spares run nothing: they go back to the pool as soon as their run stops. */
    private void releaseSpares(UUID runId, Instant now) {
        for (UUID node : placements.releaseSpares(runId, now)) {
            if (nodes.state(node) == NodeState.SPARE) {
                nodes.releaseSpare(node, ACTOR);
            }
        }
    }

    private void placePending(Instant now, TransactionStatus pass, Map<UUID, String> poisoned) {
        List<Run> pending = runs.findInStateOldestFirst(RunState.PENDING);
        if (pending.isEmpty()) {
            return;
        }
        Set<UUID> busy = placements.activeNodeIds();
        busy.addAll(placements.heldForRecovery()); // a recovering run keeps its healthy nodes for the restart
        List<GangPlacer.Candidate> free = nodes.availableNodes().stream()
                .filter(n -> !busy.contains(n.id()))
                .map(n -> new GangPlacer.Candidate(n.id(), n.name(), n.labels(), n.gpuCount()))
                .collect(Collectors.toCollection(ArrayList::new));
        for (Run candidateRun : pending) {
            String failure = poisoned.get(candidateRun.getId());
            RuntimeException error = null;
            if (failure == null) {
                try {
                    isolated(() -> placeOne(candidateRun.getId(), free, now));
                    continue;
                } catch (RuntimeException e) {
                    failure = describe(e);
                    error = e;
                    if (pass.isRollbackOnly()) { // the savepoint undid the writes, not the mark: the pass is lost
                        throw new PoisonedPass(candidateRun.getId(), failure, e);
                    }
                }
            }
            // One run that cannot be placed (a spec this version cannot read, a database error, a bug) must not stop
            // the pass for every other run: its work is rolled back, the failure is noted on it, the others go on.
            // Noted on the run as stored: the failed work may have changed the entity in memory (its state too).
            Run stored = runs.findById(candidateRun.getId()).orElseThrow();
            if (stateMachine.note(stored, "placement failed: " + failure + "; the run stays pending", ACTOR)) {
                log.warn("Run {}: placement failed; it stays pending, the pass goes on: {}", candidateRun.getId(),
                        failure, error);
            }
        }
    }

    private void placeOne(UUID runId, List<GangPlacer.Candidate> free, Instant now) {
        Run run = runs.findForUpdate(runId).orElseThrow();
        if (run.getState() != RunState.PENDING) {
            return;
        }
        RunSpec spec = json.readValue(run.getSpec(), RunSpec.class);
        Predicate<UUID> installed = programs.installedOn(spec.program());
        List<GangPlacer.Candidate> selected = free.stream()
                .filter(c -> spec.fits(c.labels(), c.gpus()) && installed.test(c.id())).toList();
        GangPlacer.place(selected, spec.nodes(), run.getSpares()).ifPresent(gang -> {
            long generation = generations.start(run,
                    gang.ranks().stream().map(GangPlacer.Candidate::id).toList(),
                    gang.spares().stream().map(GangPlacer.Candidate::id).toList(),
                    checkpoints.latestForPlacement(run.getId()).orElse(null), RestartKnobs.NONE, null, now);
            free.removeAll(gang.ranks());
            free.removeAll(gang.spares());
            stateMachine.transition(run, RunState.STARTING, "placed generation " + generation + " on "
                    + gang.ranks().stream().map(GangPlacer.Candidate::name).collect(Collectors.joining(", "))
                    + (gang.spares().isEmpty() ? "" : "; spares " + gang.spares().stream()
                    .map(GangPlacer.Candidate::name).collect(Collectors.joining(", "))), ACTOR);
            // Last: the node registry flushes and clears the persistence context, detaching the run.
            gang.spares().forEach(spare -> nodes.markSpare(spare.id(), ACTOR));
        });
    }

    /**
     * Runs {@code work} under a savepoint of the pass's transaction: when it throws, what it wrote is rolled back
     * (and the persistence context, flushed before, is cleared of what it changed) while the pass goes on, unless the
     * failure also marked the transaction rollback-only (see {@link #run}). Not a PROPAGATION_NESTED transaction:
     * JpaTransactionManager with Hibernate offers no savepoints (HibernateJpaDialect's transaction data is no
     * SavepointManager), and rolling back to one would not clear the mark on Hibernate's transaction either.
     */
    private void isolated(Runnable work) {
        entityManager.flush();
        Connection connection = DataSourceUtils.getConnection(dataSource); // the pass's own, bound to its transaction
        try {
            Savepoint savepoint = connection.setSavepoint();
            try {
                work.run();
                entityManager.flush();
            } catch (RuntimeException e) {
                connection.rollback(savepoint);
                entityManager.clear();
                throw e;
            }
            connection.releaseSavepoint(savepoint);
        } catch (SQLException e) { // the transaction is lost: the pass fails as a whole and the next one retries
            throw new IllegalStateException("savepoint of the scheduling pass failed", e);
        } finally {
            DataSourceUtils.releaseConnection(connection, dataSource);
        }
    }

    /** A run's placement failed and took the pass's transaction with it. */
    private static final class PoisonedPass extends RuntimeException {
        final UUID runId;
        final String failure;

        PoisonedPass(UUID runId, String failure, Throwable cause) {
            super("placement of run " + runId + " failed: " + failure, cause);
            this.runId = runId;
            this.failure = failure;
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null || message.isBlank() ? e.getClass().getSimpleName()
                : message.length() > 300 ? message.substring(0, 300) + "..." : message;
    }
}