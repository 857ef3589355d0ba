package dev.steadyrun.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * An image built by Jib ({@code docker save} form: manifest.json, the config, gzipped layers), unpacked into a
 * root filesystem and run as a container runtime would: its entrypoint, environment, user and working directory,
 * in a chroot with its own mount and PID namespaces ({@code unshare}), /proc and /dev, on the host's network.
 * Needs root, as a runtime does.
 */
final class ContainerImage {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    final Path rootfs;
    final List<String> entrypoint;
    final Map<String, String> env = new LinkedHashMap<>();
    final String user;
    final String workingDir;
    final List<Integer> exposedPorts = new ArrayList<>();

    private ContainerImage(Path rootfs, JsonNode config) {
        this.rootfs = rootfs;
        List<String> command = new ArrayList<>();
        config.path("Entrypoint").forEach(n -> command.add(n.asString()));
        config.path("Cmd").forEach(n -> command.add(n.asString()));
        this.entrypoint = List.copyOf(command);
        config.path("Env").forEach(n -> {
            String kv = n.asString();
            int eq = kv.indexOf('=');
            env.put(kv.substring(0, eq), kv.substring(eq + 1));
        });
        this.user = config.path("User").asString("");
        this.workingDir = config.path("WorkingDir").asString("/");
        config.path("ExposedPorts").propertyNames()
                .forEach(p -> exposedPorts.add(Integer.parseInt(p.substring(0, p.indexOf('/')))));
    }

    /** Unpacks {@code imageTar}'s layers, in order, into {@code work}/rootfs. */
    static ContainerImage unpack(Path imageTar, Path work) throws IOException, InterruptedException {
        Path outer = Files.createDirectories(work.resolve("image"));
        Path rootfs = Files.createDirectories(work.resolve("rootfs"));
        run(List.of("tar", "-xf", imageTar.toString(), "-C", outer.toString()));
        JsonNode manifest = JSON.readTree(outer.resolve("manifest.json").toFile()).get(0);
        for (JsonNode layer : manifest.path("Layers")) {
            // --same-owner/permissions: as root, tar keeps the layer's owners and modes, as a runtime does
            run(List.of("tar", "--same-owner", "-xpzf", outer.resolve(layer.asString()).toString(),
                    "-C", rootfs.toString()));
            try (Stream<Path> files = Files.walk(rootfs)) {
                // Jib's images have none; applying whiteouts is beyond this reader, so refuse rather than be wrong
                if (files.anyMatch(f -> f.getFileName() != null && f.getFileName().toString().startsWith(".wh."))) {
                    throw new IllegalStateException("layer " + layer + " has whiteout files");
                }
            }
        }
        JsonNode config = JSON.readTree(outer.resolve(manifest.path("Config").asString()).toFile()).path("config");
        return new ContainerImage(rootfs, config);
    }

    /**
     * Starts {@code command} (the entrypoint when null) in the image, with the image's environment plus
     * {@code extraEnv}, as the image's user, as the Helm chart runs it: the root filesystem read-only, an empty
     * writable /tmp (the chart's emptyDir) and each of {@code volumes} (host directory → path in the container)
     * mounted writable. The host's /dev, /etc/hosts and /etc/resolv.conf are bound in, as a runtime provides them.
     * {@link #kill} ends it.
     */
    Process start(List<String> command, Map<String, String> extraEnv, Map<Path, String> volumes, Path log)
            throws IOException {
        Map<String, String> environment = new LinkedHashMap<>(env);
        environment.putAll(extraEnv);
        StringBuilder mounts = new StringBuilder();
        volumes.forEach((host, path) -> mounts.append("mkdir -p \"$root").append(path).append("\"\n")
                .append("mount --bind '").append(host).append("' \"$root").append(path).append("\"\n"));
        List<String> argv = new ArrayList<>(List.of("unshare", "--mount", "--pid", "--fork", "--kill-child",
                "--mount-proc=" + rootfs.resolve("proc"), "sh", "-ec",
                "root=$1; user=$2; dir=$3; shift 3\n"
                        // a mount of its own (with /proc under it), to be made read-only last
                        + "mount --rbind \"$root\" \"$root\"\n"
                        + "mount --rbind /dev \"$root/dev\"\n"
                        + "mount -t tmpfs -o mode=1777 tmpfs \"$root/tmp\"\n"
                        + mounts
                        + "for f in /etc/hosts /etc/resolv.conf; do\n"
                        + "  if [ -e \"$f\" ]; then touch \"$root$f\"; mount --bind \"$f\" \"$root$f\"; fi\n"
                        + "done\n"
                        + "mount -o remount,bind,ro \"$root\"\n"
                        + "exec chroot --userspec=\"$user\" \"$root\" /bin/sh -ec 'cd \"$0\"; exec \"$@\"' \"$dir\" "
                        + "/usr/bin/env -i \"$@\"",
                "container", rootfs.toString(), user.isEmpty() ? "0:0" : user, workingDir));
        environment.forEach((k, v) -> argv.add(k + "=" + v));
        argv.addAll(command == null ? entrypoint : command);
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /**
     * Ends a started container: its processes first (the image's user is not unshare's, so the kernel does not
     * pass on unshare's death to them), then unshare.
     */
    static void kill(Process container) {
        container.descendants().forEach(ProcessHandle::destroyForcibly);
        container.destroyForcibly();
    }

    /** The uid (real, effective, saved, fs) of a process, from /proc. */
    static List<Long> uids(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Uid:")) {
                return Stream.of(line.substring(4).trim().split("\\s+")).map(Long::parseLong).toList();
            }
        }
        throw new IllegalStateException("no Uid line for " + pid);
    }

    /** The command line of a process, from /proc. */
    static String cmdline(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return ""; // the process ended
        }
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException(command + " failed: " + out);
        }
    }
}
