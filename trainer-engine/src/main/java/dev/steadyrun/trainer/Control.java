package dev.steadyrun.trainer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.protocol.TrainerControl.Assign;
import dev.steadyrun.protocol.TrainerControl.Leave;

/**
 * The trainer's end of the agent's control channel ({@link TrainerControl}): a daemon thread follows the control
 * file the agent appends to, hands each {@link Leave} to the trainer at once (it is acted on at the next step
 * boundary) and queues each {@link Assign} for the moment the trainer is free to join.
 */
final class Control {

    private static final Logger log = LoggerFactory.getLogger(Control.class);
    /** How often the file is read: a small share of the detection-to-first-step time, nothing of a step's. */
    private static final long POLL_MILLIS = 50;

    private final Path file;
    private final LongConsumer onLeave;
    private final BlockingQueue<Assign> assigns = new LinkedBlockingQueue<>();
    /** Bytes read after the last newline. */
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private long offset;

    private Control(Path file, LongConsumer onLeave) {
        this.file = file;
        this.onLeave = onLeave;
    }

    /** The channel the agent named in {@link TrainerControl#ENV}, followed from now on; null when there is none. */
    static Control fromEnv(LongConsumer onLeave) {
        String name = System.getenv(TrainerControl.ENV);
        if (name == null || name.isBlank()) {
            return null;
        }
        Control c = new Control(Path.of(name), onLeave);
        Thread t = new Thread(c::follow, "control");
        t.setDaemon(true);
        t.start();
        return c;
    }

    /** The next generation to join, or null once {@code cancelled} (SIGTERM) says to stop waiting. */
    Assign next(BooleanSupplier cancelled) {
        while (!cancelled.getAsBoolean()) {
            try {
                Assign a = assigns.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (a != null) {
                    return a;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    private void follow() {
        while (true) {
            try {
                readNew();
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                log.warn("control file {}: {}", file, e.toString());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException stop) {
                    return;
                }
            }
        }
    }

    /** Reads what was appended since the last call; a line counts once its newline is there. */
    private void readNew() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int n;
            while ((n = ch.read(buf, offset)) > 0) {
                offset += n;
                partial.write(buf.array(), 0, n);
                buf.clear();
            }
        } catch (NoSuchFileException e) {
            return; // the agent has not written yet
        }
        byte[] bytes = partial.toByteArray();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '\n') { // never inside a UTF-8 sequence: a line is decoded whole
                handle(new String(bytes, start, i - start, StandardCharsets.UTF_8).strip());
                start = i + 1;
            }
        }
        partial.reset();
        partial.write(bytes, start, bytes.length - start);
    }

    private void handle(String line) {
        if (line.isEmpty()) {
            return;
        }
        TrainerControl.Message m = TrainerControl.parseMessage(line).orElse(null);
        if (m instanceof Leave leave) {
            log.info("control: leave generation {}", leave.generation());
            onLeave.accept(leave.generation());
        } else if (m instanceof Assign assign) {
            assigns.add(assign);
        } else {
            log.warn("control: ignored a line that is no control message");
        }
    }
}
