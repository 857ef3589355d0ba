package dev.steadyrun.orchestrator.logs;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import jakarta.annotation.PreDestroy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.web.ServiceUnavailableException;

/**
 * The open {@code follow=true} streams (server-sent events). An agent's append only wakes a stream; the stream's
 * lines are written by a pool thread reading the window from the stream's cursor, so a slow reader never holds up
 * an agent, and a reader that fell behind the window is told how many lines it missed. Events: {@code line} (a
 * {@link LogLine}, id = its seq), {@code missed} ({@code {"lines": n}}) and {@code end} ({@code {"reason": ...}}) as
 * the last: the generation was superseded, the run ended, the window was evicted, or the stream's time was up.
 */
@Component
class LogFollowers {

    private static final Logger log = LoggerFactory.getLogger(LogFollowers.class);
    /** Lines read from the window per write: a burst goes out in several writes, each a bounded allocation. */
    private static final int CHUNK = 200;

    private final class Follower {
        final LogWindows.Key key;
        final SseEmitter emitter;
        final Instant deadline;
        final AtomicBoolean running = new AtomicBoolean();
        final AtomicBoolean dirty = new AtomicBoolean();
        volatile boolean keepalive;
        volatile String endReason;
        long cursor; // only the one running drain touches it
        volatile boolean closed;

        Follower(LogWindows.Key key, SseEmitter emitter, long after, Instant deadline) {
            this.key = key;
            this.emitter = emitter;
            this.cursor = after;
            this.deadline = deadline;
        }
    }

    private final LogWindows windows;
    private final RunRepository runs;
    private final LogProperties props;
    private final Clock clock;
    private final Set<Follower> followers = ConcurrentHashMap.newKeySet();
    private final ThreadPoolExecutor writers;
    private final ScheduledExecutorService ticker;

    LogFollowers(LogWindows windows, RunRepository runs, LogProperties props, Clock clock) {
        this.windows = windows;
        this.runs = runs;
        this.props = props;
        this.clock = clock;
        // one drain per stream at a time, so never more threads than streams; idle threads go after 30 s
        this.writers = new ThreadPoolExecutor(0, props.maxFollowers(), 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> daemon(r, "log-stream"));
        this.ticker = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "log-stream-ticker"));
        ticker.scheduleWithFixedDelay(this::tick, props.keepalive().toMillis(), props.keepalive().toMillis(),
                TimeUnit.MILLISECONDS);
        windows.onAppend(this::wake);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Opens a stream of the window's lines after {@code after}, then every new one. */
    SseEmitter follow(LogWindows.Key key, long after) {
        // the servlet's own timeout is only a backstop: the stream ends itself with an end event at its deadline
        SseEmitter emitter = new SseEmitter(props.followTimeout().plus(props.keepalive()).plusSeconds(30).toMillis());
        Follower f = new Follower(key, emitter, after, clock.instant().plus(props.followTimeout()));
        synchronized (followers) {
            if (followers.size() >= props.maxFollowers()) {
                throw new ServiceUnavailableException("already " + props.maxFollowers() + " log streams open "
                        + "(steadyrun.logs.max-followers); read without follow=true, or retry later",
                        Duration.ofSeconds(5));
            }
            followers.add(f);
        }
        emitter.onCompletion(() -> close(f));
        emitter.onTimeout(() -> close(f));
        emitter.onError(e -> close(f));
        wake(f);
        return emitter;
    }

    int open() {
        return followers.size();
    }

    private void close(Follower f) {
        f.closed = true;
        followers.remove(f);
    }

    private void wake(LogWindows.Key key) {
        for (Follower f : followers) {
            if (f.key.equals(key)) {
                wake(f);
            }
        }
    }

    private void wake(Follower f) {
        f.dirty.set(true);
        if (!f.closed && f.running.compareAndSet(false, true)) {
            execute(f);
        }
    }

    /** Never throws into an agent's request: a full pool (a closed stream's drain still ending) waits for a tick. */
    private void execute(Follower f) {
        try {
            writers.execute(() -> drain(f));
        } catch (RejectedExecutionException e) {
            f.running.set(false);
        }
    }

    private void drain(Follower f) {
        try {
            while (f.dirty.getAndSet(false) && !f.closed) {
                write(f);
            }
        } catch (IOException | IllegalStateException e) { // the reader went away, or the stream already ended
            log.debug("log stream of {} closed: {}", f.key, e.toString());
            close(f);
        } finally {
            f.running.set(false);
        }
        if (f.dirty.get() && !f.closed && f.running.compareAndSet(false, true)) {
            execute(f);
        }
    }

    private void write(Follower f) throws IOException {
        while (true) {
            LogWindows.Read read = windows.read(f.key, f.cursor, CHUNK);
            if (read.missedLines() > 0) {
                f.emitter.send(SseEmitter.event().name("missed").data(Map.of("lines", read.missedLines()),
                        MediaType.APPLICATION_JSON));
                f.cursor += read.missedLines();
            }
            for (LogLine line : read.lines()) {
                f.emitter.send(SseEmitter.event().id(Long.toString(line.seq())).name("line").data(line,
                        MediaType.APPLICATION_JSON));
                f.cursor = line.seq();
            }
            if (read.lines().size() < CHUNK) {
                String end = f.endReason != null ? f.endReason
                        : read.superseded() ? "superseded: the run started a newer generation" : null;
                if (end != null) {
                    f.emitter.send(SseEmitter.event().name("end").data(Map.of("reason", end),
                            MediaType.APPLICATION_JSON));
                    close(f);
                    f.emitter.complete();
                } else if (f.keepalive) {
                    f.keepalive = false;
                    f.emitter.send(SseEmitter.event().comment("keepalive"));
                }
                return;
            }
        }
    }

    /** Keepalives, deadlines, and the end of streams whose run ended. */
    private void tick() {
        try {
            Instant now = clock.instant();
            Set<UUID> runIds = followers.stream().map(f -> f.key.runId()).collect(Collectors.toSet());
            Map<UUID, Run> live = runIds.isEmpty() ? Map.of() : runs.findAllById(runIds).stream()
                    .collect(Collectors.toMap(Run::getId, r -> r));
            for (Follower f : List.copyOf(followers)) {
                Run run = live.get(f.key.runId());
                if (!now.isBefore(f.deadline)) {
                    f.endReason = "timeout: reconnect with after=<the last seq>";
                } else if (run == null || run.getState().isTerminal()) {
                    f.endReason = "the run is " + (run == null ? "gone" : run.getState());
                }
                f.keepalive = true;
                wake(f);
            }
        } catch (RuntimeException e) { // the database may be away for a while: try again next tick
            log.warn("log stream tick failed: {}", e.toString());
        }
    }

    @PreDestroy
    void stop() {
        ticker.shutdownNow();
        for (Follower f : List.copyOf(followers)) {
            close(f);
            f.emitter.complete();
        }
        writers.shutdownNow();
    }
}
