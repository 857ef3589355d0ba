package dev.steadyrun.agent.gpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * TEST TOOL: a stand-in {@code nvidia-smi} with one GPU. While the file {@link #hang()} exists, a health query
 * hangs the way nvidia-smi does on a wedged GPU: it starts a child that never ends and waits for it. Every process
 * it starts writes its pid to {@link #pids()}.
 */
public final class FakeNvidiaSmi {

    private final Path dir;

    public FakeNvidiaSmi(Path dir) throws IOException {
        this.dir = dir;
        Files.writeString(executable(), """
                #!/bin/sh
                echo $$ >> "%1$s/pids"
                case "$1" in
                  --query-gpu=%2$s) echo "0, GPU-a, Fake H100, 81559"; exit 0 ;;
                  --query-gpu=%3$s) echo "0, 00000000:18:00.0"; exit 0 ;;
                esac
                if [ -e "%1$s/hang" ]; then
                  sleep 600 &
                  echo $! >> "%1$s/pids"
                  wait
                fi
                echo "0, 50, 1, 81559, 10, 0, 0, 0, 0"
                """.formatted(dir, NvidiaSmiProbe.INVENTORY_FIELDS, NvidiaSmiProbe.BUS_FIELDS));
        Files.setPosixFilePermissions(executable(), PosixFilePermissions.fromString("rwx------"));
    }

    public Path executable() {
        return dir.resolve("nvidia-smi");
    }

    public Path hang() {
        return dir.resolve("hang");
    }

    /** Every process the fake started, hung ones included. */
    public List<Long> pids() {
        Path pids = dir.resolve("pids");
        try {
            return Files.exists(pids) ? Files.readAllLines(pids).stream().map(Long::parseLong).toList() : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Ends whatever a failed test left behind. */
    public void killAll() {
        for (long pid : pids()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}
