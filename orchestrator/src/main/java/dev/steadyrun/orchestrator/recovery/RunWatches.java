package dev.steadyrun.orchestrator.recovery;

import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.database.OrchestratorActivated;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunSpecs;
import dev.steadyrun.protocol.StepMetrics;

/**
 * Every live run's detectors ({@link RunWatch}), one per run for its current generation, in memory. At startup,
 * before any report is served, they are rebuilt from the latest steps each run's generation stored, so that a
 * restarted orchestrator judges the next report as the old one would have.
 */
@Component
class RunWatches implements SmartInitializingSingleton {

    private static final Logger log = LoggerFactory.getLogger(RunWatches.class);

    private final RunRepository runs;
    private final JdbcTemplate jdbc;
    private final RunSpecs specs;
    private final Clock clock;
    private final Map<UUID, RunWatch> watches = new ConcurrentHashMap<>();

    RunWatches(RunRepository runs, JdbcTemplate jdbc, RunSpecs specs, Clock clock) {
        this.runs = runs;
        this.jdbc = jdbc;
        this.specs = specs;
        this.clock = clock;
    }

    @Override
    public void afterSingletonsInstantiated() {
        rebuild(clock.instant());
    }

    /** A standby took over: the runs moved on while it waited. */
    @EventListener(OrchestratorActivated.class)
    @Order(Ordered.HIGHEST_PRECEDENCE)
    void activated() {
        rebuild(clock.instant());
    }

    void rebuild(Instant now) {
        watches.clear();
        for (Run run : runs.findLiveOldestFirst()) {
            try {
                watches.put(run.getId(), replayed(run, now));
            } catch (RuntimeException e) {
                // one run's bad row must not keep the orchestrator from starting; its watch starts empty on demand
                log.warn("Could not rebuild the detectors of run {}: {}", run.getId(), e.toString());
            }
        }
    }

    /** The watch of {@code generation} of a run, created on its first report; null when the run moved past it. */
    RunWatch of(UUID runId, long generation, Instant now) {
        RunWatch current = watches.get(runId);
        if (current != null && current.generation >= generation) {
            return current.generation == generation ? current : null;
        }
        Run run = runs.findById(runId).orElse(null);
        if (run == null) {
            return null;
        }
        RunWatch fresh = new RunWatch(generation, specs.policyOf(run), run.getWorldSize(), now);
        RunWatch kept = watches.merge(runId, fresh, (a, b) -> a.generation >= b.generation ? a : b);
        return kept.generation == generation ? kept : null;
    }

    /** Forgets the watches of runs no longer among {@code live}. */
    void retain(Collection<UUID> live) {
        watches.keySet().retainAll(live);
    }

    private RunWatch replayed(Run run, Instant now) {
        RunWatch watch = new RunWatch(run.getGeneration(), specs.policyOf(run), run.getWorldSize(), now);
        jdbc.query("""
                select rank, step, loss, grad_norm, loss_scale, overflow, lr, tokens_per_sec, step_time_ms
                from run_metric where run_id = ? and generation = ?
                  and step > (select coalesce(max(step), 0) from run_metric
                              where run_id = ? and generation = ? and rank = 0) - ?
                order by step, rank""", rs -> {
            // what run_metric keeps: tokens seen, memory and activation norms are not in the detectors' rules
            watch.replay(rs.getInt("rank"), new StepMetrics(rs.getLong("step"), 0, rs.getDouble("loss"),
                    rs.getDouble("grad_norm"), rs.getDouble("loss_scale"), rs.getBoolean("overflow"),
                    rs.getDouble("lr"), rs.getDouble("tokens_per_sec"), rs.getDouble("step_time_ms"), 0,
                    List.of()), now);
        }, run.getId(), run.getGeneration(), run.getId(), run.getGeneration(), watch.policy.detectorWindowSteps());
        return watch;
    }
}
