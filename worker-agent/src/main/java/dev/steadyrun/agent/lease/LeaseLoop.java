package dev.steadyrun.agent.lease;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.agent.gpu.GpuReport;
import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.agent.trainer.TrainerDriver;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;

/**
 * One node's conversation with the orchestrator: register with the join token and the node's credential from its
 * {@link CredentialStore} (an existing node name re-joins only with it; a first registration proposes one, stored
 * before asking), renew the lease
 * every heartbeat interval with jitter, back off (capped, exponential) while the orchestrator is unreachable,
 * register again on 401, hand the answer's chaos faults (a test tool) on, and send buffered trainer reports. It runs as tasks on a shared scheduler, so one JVM can host
 * a thousand simulated nodes with the same code as the real agent.
 *
 * <p>Nothing here stops the trainer when the orchestrator is unreachable: the trainer keeps training, and the
 * first heartbeat after the outage tells the orchestrator what runs.
 */
public final class LeaseLoop {

    private static final Logger log = LoggerFactory.getLogger(LeaseLoop.class);
    /** Reports sent per flush at most, so a backlog after an outage drains without starving heartbeats. */
    private static final int MAX_BATCHES_PER_FLUSH = 20;

    private record Session(UUID nodeId, String credential) {
    }

    private final OrchestratorClient client;
    private final String joinToken;
    private final CredentialStore credentials;
    private final Supplier<RegisterRequest> registration;
    private final Supplier<GpuReport> health;
    private final TrainerDriver trainer;
    private final Consumer<ChaosFault> chaos;
    private final ReportBuffer reports;
    private final LogBuffer logs;
    private final ScheduledExecutorService scheduler;
    private final Backoff backoff;
    private final Duration reportFlush;

    private volatile Session session;
    private volatile LeaseTimings timings;
    private volatile boolean stopped;
    private volatile ScheduledFuture<?> flushTask;
    private long sequence;
    private int failures;
    private final AtomicLong heartbeats = new AtomicLong();
    private final AtomicLong registrations = new AtomicLong();

    public LeaseLoop(OrchestratorClient client, String joinToken, CredentialStore credentials,
                     Supplier<RegisterRequest> registration,
                     Supplier<GpuReport> health, TrainerDriver trainer, Consumer<ChaosFault> chaos,
                     ReportBuffer reports, LogBuffer logs,
                     ScheduledExecutorService scheduler, Backoff backoff, Duration reportFlush,
                     LeaseTimings initialTimings) {
        this.client = client;
        this.joinToken = joinToken;
        this.credentials = credentials;
        this.registration = registration;
        this.health = health;
        this.trainer = trainer;
        this.chaos = chaos;
        this.reports = reports;
        this.logs = logs;
        this.scheduler = scheduler;
        this.backoff = backoff;
        this.reportFlush = reportFlush;
        this.timings = initialTimings; // until the orchestrator sends its own
    }

    public void start() {
        scheduler.execute(this::beat);
        flushTask = scheduler.scheduleWithFixedDelay(this::flushReports, reportFlush.toMillis(),
                reportFlush.toMillis(), TimeUnit.MILLISECONDS);
    }

    public void stop() {
        stopped = true;
        ScheduledFuture<?> f = flushTask;
        if (f != null) {
            f.cancel(false);
        }
    }

    /** Successful heartbeats so far. */
    public long heartbeats() {
        return heartbeats.get();
    }

    /** Successful registrations so far (more than one: the orchestrator forgot the credential). */
    public long registrations() {
        return registrations.get();
    }

    public Optional<UUID> nodeId() {
        Session s = session;
        return Optional.ofNullable(s == null ? null : s.nodeId());
    }

    private void beat() {
        if (stopped) {
            return;
        }
        Duration next;
        try {
            Session s = session;
            if (s == null) {
                String known = credentials.load().orElse(null);
                if (known == null) {
                    // stored before asking: if the answer is lost, the retry presents it and re-joins the node
                    known = RegisterRequest.newCredential();
                    credentials.save(known);
                }
                RegisterResponse r = client.register(joinToken, registration.get().withCredential(known));
                if (!r.nodeCredential().equals(known)) {
                    credentials.save(r.nodeCredential()); // before using it: a crash must not lose the node
                }
                s = new Session(r.nodeId(), r.nodeCredential());
                session = s;
                if (r.timings() != null) {
                    timings = r.timings();
                }
                registrations.incrementAndGet();
                log.info("registered as node {}", r.nodeId());
            }
            GpuReport gpus = health.get();
            HeartbeatResponse answer = client.heartbeat(s.nodeId(), s.credential(),
                    new HeartbeatRequest(++sequence, gpus.gpus(), trainer.status(), gpus.probeFault()));
            heartbeats.incrementAndGet();
            if (failures > 0) {
                log.info("orchestrator reachable again after {} failed calls", failures);
            }
            failures = 0;
            if (answer.timings() != null) {
                timings = answer.timings();
            }
            if (answer.keep() != null) {
                trainer.keep(answer.keep());
            }
            if (answer.desired() != null) {
                trainer.apply(answer.desired(), answer.assignment());
            }
            if (answer.chaos() != null) {
                answer.chaos().forEach(chaos); // after the assignment: a fault is for the trainer now running
            }
            next = backoff.healthy(timings);
        } catch (OrchestratorClient.CallException e) {
            if (stopped) {
                return; // the call was cut short by the shutdown
            }
            if (e.unauthorized() && session != null) {
                log.warn("node credential refused ({}); registering again", e.getMessage());
                session = null;
                next = Duration.ZERO;
            } else if (e.forbidden() && session == null) {
                // The name is registered with another credential (a re-key, or a lost credential file): only an
                // operator can fix that; keep trying, so a credential written into the store is picked up.
                failures++;
                next = backoff.afterFailures(failures, timings);
                if (failures == 1 || failures % 10 == 0) {
                    log.error("registration refused: {}. An admin must re-key the node (POST /api/v1/nodes/{id}"
                            + "/rekey) and put the new credential into the agent's credential file, or delete the"
                            + " node; retrying in {} ms", e.getMessage(), next.toMillis());
                }
            } else {
                failures++;
                next = backoff.afterFailures(failures, timings);
                if (failures == 1 || failures % 10 == 0) {
                    log.warn("orchestrator call failed ({} in a row), retrying in {} ms: {}", failures,
                            next.toMillis(), e.getMessage());
                }
            }
        } catch (RuntimeException e) {
            failures++;
            next = backoff.afterFailures(failures, timings);
            log.error("heartbeat failed unexpectedly, retrying in {} ms", next.toMillis(), e);
        }
        if (!stopped) {
            scheduler.schedule(this::beat, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Sends waiting reports, then log lines (reports first: restore points and progress matter more); keeps them
     * when the orchestrator is unreachable. Also used at shutdown.
     */
    public void flushReports() {
        Session s = session;
        if (s == null) {
            return;
        }
        if (sendReports(s)) {
            sendLogs(s);
        }
    }

    /** False when the orchestrator could not be reached (nothing more is worth trying now). */
    private boolean sendReports(Session s) {
        for (int i = 0; i < MAX_BATCHES_PER_FLUSH; i++) {
            Optional<ReportBuffer.Batch> next = reports.next();
            if (next.isEmpty()) {
                return true;
            }
            ReportBuffer.Batch batch = next.get();
            try {
                client.report(s.nodeId(), s.credential(), batch.report());
                reports.sent(batch);
            } catch (OrchestratorClient.CallException e) {
                if (e.conflict()) {
                    log.warn("generation {} of run {} is fenced ({}): stopping its trainer",
                            batch.source().generation(), batch.source().runId(), e.getMessage());
                    reports.discard(batch.source());
                    trainer.fence(batch.source().runId(), batch.source().generation());
                } else if (e.transientFailure() || e.unauthorized()) {
                    return false; // kept; the heartbeat loop deals with the outage or the new credential
                } else {
                    // A 4xx other than 401/409 means this batch can never be accepted: do not block the rest.
                    log.error("report refused, dropping {} steps and {} checkpoints: {}",
                            batch.report().steps().size(), batch.report().checkpoints().size(), e.getMessage());
                    reports.sent(batch);
                }
            } catch (RuntimeException e) {
                log.error("sending a report failed unexpectedly", e);
                return false;
            }
        }
        return true;
    }

    private void sendLogs(Session s) {
        for (int i = 0; i < MAX_BATCHES_PER_FLUSH; i++) {
            Optional<LogBuffer.Batch> next = logs.next();
            if (next.isEmpty()) {
                return;
            }
            LogBuffer.Batch batch = next.get();
            try {
                client.logs(s.nodeId(), s.credential(), batch.batch());
                logs.sent(batch);
            } catch (OrchestratorClient.CallException e) {
                if (e.conflict()) { // the reports of that generation are fenced too, and stop its trainer
                    logs.discard(batch.source());
                } else if (e.transientFailure() || e.unauthorized()) {
                    return;
                } else {
                    log.error("log lines refused, dropping {}: {}", batch.batch().lines().size(), e.getMessage());
                    logs.sent(batch);
                }
            } catch (RuntimeException e) {
                log.error("sending log lines failed unexpectedly", e);
                return;
            }
        }
    }
}
