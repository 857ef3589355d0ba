package dev.steadyrun.orchestrator.agent;

import java.util.List;
import java.util.UUID;

import org.springframework.stereotype.Service;

import dev.steadyrun.orchestrator.logs.LogWindows;
import dev.steadyrun.orchestrator.run.Run;
import dev.steadyrun.orchestrator.run.RunRepository;
import dev.steadyrun.orchestrator.run.RunService;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.protocol.TrainerLogBatch;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Takes trainers' log lines for the live view, fenced like reports ({@link GenerationFence}), into the in-memory
 * windows. No row lock: a line of a generation that is being superseded at the same moment costs nothing.
 */
@Service
class LogHandler {

    private final RunRepository runs;
    private final GenerationFence fence;
    private final LogWindows windows;
    private final Counter lines;
    private final Counter dropped;

    LogHandler(RunRepository runs, GenerationFence fence, LogWindows windows, MeterRegistry registry) {
        this.runs = runs;
        this.fence = fence;
        this.windows = windows;
        this.lines = Counter.builder("steadyrun.run.log.lines").description("Trainer log lines received from agents")
                .register(registry);
        this.dropped = Counter.builder("steadyrun.run.log.dropped")
                .description("Trainer log lines agents dropped before sending (their buffer was full)")
                .register(registry);
    }

    void accept(UUID nodeId, TrainerLogBatch batch) {
        validate(batch);
        Run run = runs.findById(batch.runId()).orElseThrow(() -> RunService.notFound(batch.runId()));
        fence.check(nodeId, run, batch.rank(), batch.generation());
        windows.append(new LogWindows.Key(run.getId(), batch.rank(), batch.generation()), batch.lines(),
                batch.droppedLines());
        lines.increment(batch.lines().size());
        dropped.increment(batch.droppedLines());
    }

    private static void validate(TrainerLogBatch batch) {
        if (batch.runId() == null) {
            throw new BadRequestException("runId", "is required");
        }
        if (batch.generation() < 1) {
            throw new BadRequestException("generation", "must be 1 or more, was " + batch.generation());
        }
        if (batch.rank() < 0) {
            throw new BadRequestException("rank", "must be 0 or more, was " + batch.rank());
        }
        if (batch.droppedLines() < 0) {
            throw new BadRequestException("droppedLines", "must be 0 or more, was " + batch.droppedLines());
        }
        List<TrainerLogBatch.Line> lines = batch.lines();
        if (lines.size() > TrainerLogBatch.MAX_LINES) {
            throw new BadRequestException("lines", "at most " + TrainerLogBatch.MAX_LINES + " per batch, was "
                    + lines.size());
        }
        long previous = -1;
        for (int i = 0; i < lines.size(); i++) {
            TrainerLogBatch.Line line = lines.get(i);
            if (line == null) {
                throw new BadRequestException("lines[" + i + "]", "is required");
            }
            if (line.seq() <= previous) {
                throw new BadRequestException("lines[" + i + "].seq", "must be 0 or more and above the line "
                        + "before's, was " + line.seq());
            }
            previous = line.seq();
            if (line.text() == null || line.text().length() > TrainerLogBatch.MAX_LINE_CHARS) {
                throw new BadRequestException("lines[" + i + "].text", "must be at most "
                        + TrainerLogBatch.MAX_LINE_CHARS + " characters");
            }
            if (line.stream() == null) {
                throw new BadRequestException("lines[" + i + "].stream", "is required: STDOUT or STDERR");
            }
            if (line.at() == null) {
                throw new BadRequestException("lines[" + i + "].at", "is required");
            }
        }
    }
}
