package dev.steadyrun.agent;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

import dev.steadyrun.agent.lease.OrchestratorClient;
import dev.steadyrun.agent.trainer.WarmSettings;
import dev.steadyrun.protocol.ProgramRef;

/**
 * The agent's configuration, validated once at start-up.
 *
 * <p>Every setting has one key, spelled three ways: {@code join-token} in a properties file,
 * {@code --join-token} on the command line and {@code STEADYRUN_JOIN_TOKEN} in the environment. Command line
 * beats environment beats file beats the defaults below.
 *
 * @param orchestratorUrls base URLs of the orchestrator, e.g. {@code http://orchestrator:8080}; several, comma
 *                         separated, name the replicas of a standby pair outside Kubernetes (inside, the Service
 *                         already routes to the ready one): a call that gets no answer or 503 tries the next
 * @param joinToken        the fleet join token used to register
 * @param nodeName         this node's stable name; re-registering under it re-joins the same node
 * @param advertiseHost    the host name or address other nodes reach this one at (the orchestrator builds a
 *                         data-parallel run's rendezvous from rank 0's); defaults to the local host name
 * @param labels           placement labels, {@code rack=r1,zone=z1}
 * @param stateDir         where the agent keeps its node credential ({@code <node-name>.credential}, mode 0600):
 *                         it must survive restarts of the agent (a host path, not the container's file system),
 *                         and must not be on a file system that other nodes or trainers share
 * @param checkpointRoot   relative checkpoint directories of assignments are resolved against this folder
 * @param trainerCommand   the command that starts the trainer-engine, split on whitespace; the agent appends
 *                         {@code train --set …} and the rest of the assignment
 * @param programs         the other training programs installed on this node and the command that starts each,
 *                         {@code name@version=command;name@version=command}: advertised at registration, started
 *                         instead of {@code trainerCommand} for runs that name them (docs/trainer-protocol.md)
 * @param stopGrace        after SIGTERM, how long the trainer may take before SIGKILL
 * @param requestTimeout   one HTTP call to the orchestrator
 * @param caFile           PEM certificates trusted for an {@code https://} url instead of the JVM's default
 *                         trust store (the cluster's own CA); null = the default
 * @param reportFlush      how often buffered trainer lines are sent
 * @param reportBatch      the most lines in one report
 * @param reportBuffer     the most unsent lines kept while the orchestrator is unreachable
 * @param logTailLines     how many trainer stderr lines the exit report carries
 * @param trainerLogDir    where each trainer's whole log is written, one file per run, rank and generation;
 *                         null = off (only the tail is kept)
 * @param nvidiaSmi        the {@code nvidia-smi} executable; when it cannot run the node reports CPU-only
 * @param gpuProbeInterval how often the GPUs are read, off the heartbeat thread
 * @param gpuProbeTimeout  the hard deadline of one {@code nvidia-smi} call; past it the call and its children are
 *                         killed and the reading fails
 * @param gpuProbeDegradedAfter no good GPU reading for this long: heartbeats report the probe DEGRADED (the node
 *                         turns SUSPECT)
 * @param gpuProbeFatalAfter no good GPU reading for this long: heartbeats report the probe FATAL (the node fails)
 * @param faultFile        TEST TOOL: a file of injected GPU faults, consumed by the next heartbeat; null = off
 * @param fakeGpus         TEST TOOL: report this many simulated GPUs instead of probing; 0 = off
 * @param warm             warm restarts ({@code warm-restart}, {@code warm-ack-timeout}, {@code warm-keep}) and hot
 *                         spares ({@code hot-spare}): docs/agent.md
 */
public record AgentConfig(List<URI> orchestratorUrls, String joinToken, String nodeName, String advertiseHost,
                          Map<String, String> labels, Path stateDir,
                          Path checkpointRoot, List<String> trainerCommand, Duration stopGrace,
                          Duration requestTimeout, Path caFile, Duration reportFlush, int reportBatch,
                          int reportBuffer, int logTailLines, Path trainerLogDir, String nvidiaSmi,
                          Duration gpuProbeInterval, Duration gpuProbeTimeout, Duration gpuProbeDegradedAfter,
                          Duration gpuProbeFatalAfter, Path faultFile, int fakeGpus,
                          Map<ProgramRef, List<String>> programs, WarmSettings warm) {

    /** The defaults, in one place. */
    static final Map<String, String> DEFAULTS = Map.ofEntries(
            Map.entry("advertise-host", ""),
            Map.entry("labels", ""),
            Map.entry("state-dir", "agent-state"),
            Map.entry("checkpoint-root", "checkpoints"),
            Map.entry("trainer-command", "java -jar trainer-engine/target/trainer-engine-0.1.0-SNAPSHOT.jar"),
            Map.entry("stop-grace", "30s"),
            Map.entry("request-timeout", "5s"),
            Map.entry("ca-file", ""),
            Map.entry("report-flush", "500ms"),
            Map.entry("report-batch", "200"),
            Map.entry("report-buffer", "20000"),
            Map.entry("log-tail-lines", "50"),
            Map.entry("trainer-log-dir", ""),
            Map.entry("nvidia-smi", "nvidia-smi"),
            // a healthy nvidia-smi answers in well under a second; 30 s without a reading is three timed-out calls
            Map.entry("gpu-probe-interval", "5s"),
            Map.entry("gpu-probe-timeout", "10s"),
            Map.entry("gpu-probe-degraded-after", "30s"),
            Map.entry("gpu-probe-fatal-after", "120s"),
            Map.entry("fault-file", ""),
            Map.entry("fake-gpus", "0"),
            Map.entry("programs", ""),
            Map.entry("warm-restart", "true"),
            Map.entry("hot-spare", "true"),
            // a trainer leaves at the end of its current step: a step, and the checkpoint it may be finishing
            Map.entry("warm-ack-timeout", "30s"),
            Map.entry("warm-keep", "5m"));

    static final List<String> KEYS = List.of("url", "join-token", "node-name", "advertise-host", "labels",
            "state-dir", "checkpoint-root",
            "trainer-command", "stop-grace", "request-timeout", "ca-file", "report-flush", "report-batch",
            "report-buffer", "log-tail-lines", "trainer-log-dir", "nvidia-smi", "gpu-probe-interval",
            "gpu-probe-timeout", "gpu-probe-degraded-after", "gpu-probe-fatal-after", "fault-file", "fake-gpus",
            "programs", "warm-restart", "hot-spare", "warm-ack-timeout", "warm-keep");

    public AgentConfig {
        labels = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(labels)); // keeps the given order
        trainerCommand = List.copyOf(trainerCommand);
        orchestratorUrls = List.copyOf(orchestratorUrls);
        programs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(programs));
    }

    /** The file that keeps this node's credential between runs of the agent. */
    public Path credentialFile() {
        return stateDir.resolve(nodeName + ".credential");
    }

    /** Thrown with every problem found, each naming its setting. */
    public static final class InvalidConfigException extends RuntimeException {
        public InvalidConfigException(List<String> problems) {
            super("invalid agent configuration:\n  " + String.join("\n  ", problems));
        }
    }

    /**
     * Reads {@code --config FILE} (if given), the environment and the command line flags.
     *
     * @throws InvalidConfigException naming every bad or missing setting
     */
    public static AgentConfig load(String[] args, Map<String, String> env) {
        List<String> problems = new ArrayList<>();
        Map<String, String> flags = parseFlags(args, problems);
        Map<String, String> merged = new HashMap<>(DEFAULTS);
        String file = flags.remove("config");
        if (file != null) {
            merged.putAll(readFile(Path.of(file), problems));
        }
        for (String key : KEYS) {
            String value = env.get(envName(key));
            if (value != null) {
                merged.put(key, value);
            }
        }
        merged.putAll(flags);
        if (!problems.isEmpty()) {
            throw new InvalidConfigException(problems);
        }
        return fromMap(merged);
    }

    /** Builds and validates a configuration from keys as spelled in a properties file. */
    public static AgentConfig fromMap(Map<String, String> values) {
        Map<String, String> v = new HashMap<>(DEFAULTS);
        v.putAll(values);
        List<String> problems = new ArrayList<>();
        for (String key : v.keySet()) {
            if (!KEYS.contains(key)) {
                problems.add(describe(key) + ": unknown setting");
            }
        }
        List<URI> urls = parse(v, "url", problems, AgentConfig::httpUrls);
        String token = required(v, "join-token", problems);
        String nodeName = v.get("node-name");
        if (nodeName == null || nodeName.isBlank()) {
            nodeName = localHostName();
        } else if (!nodeName.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            problems.add(describe("node-name") + ": must be 1-63 letters, digits, '.', '_' or '-', got '"
                    + nodeName + "'");
        }
        String advertiseHost = v.get("advertise-host").trim();
        if (advertiseHost.isEmpty()) {
            advertiseHost = localHostName();
        } else if (!advertiseHost.matches("[A-Za-z0-9]([A-Za-z0-9.:-]{0,252}[A-Za-z0-9])?")) {
            problems.add(describe("advertise-host") + ": must be a host name or IP address, got '"
                    + advertiseHost + "'");
        }
        Map<String, String> labels = parse(v, "labels", problems, AgentConfig::labels);
        Path stateDir = parse(v, "state-dir", problems, Path::of);
        Path checkpointRoot = parse(v, "checkpoint-root", problems, Path::of);
        List<String> command = parse(v, "trainer-command", problems, AgentConfig::command);
        Duration stopGrace = parse(v, "stop-grace", problems, AgentConfig::positiveDuration);
        Duration requestTimeout = parse(v, "request-timeout", problems, AgentConfig::positiveDuration);
        String ca = v.get("ca-file").trim();
        Path caFile = null;
        if (!ca.isEmpty()) {
            caFile = parse(v, "ca-file", problems, AgentConfig::caFile);
            if (urls != null && urls.stream().anyMatch(u -> !"https".equals(u.getScheme()))) {
                problems.add(describe("ca-file") + ": only for https:// urls, got url '" + v.get("url") + "'");
            }
        }
        Duration reportFlush = parse(v, "report-flush", problems, AgentConfig::positiveDuration);
        Integer batch = parse(v, "report-batch", problems, s -> intAtLeast(s, 1));
        Integer buffer = parse(v, "report-buffer", problems, s -> intAtLeast(s, 1));
        Integer tail = parse(v, "log-tail-lines", problems, s -> intAtLeast(s, 1));
        String trainerLogDir = v.get("trainer-log-dir").trim();
        String nvidiaSmi = required(v, "nvidia-smi", problems);
        Duration probeInterval = parse(v, "gpu-probe-interval", problems, AgentConfig::positiveDuration);
        Duration probeTimeout = parse(v, "gpu-probe-timeout", problems, AgentConfig::positiveDuration);
        Duration degradedAfter = parse(v, "gpu-probe-degraded-after", problems, AgentConfig::positiveDuration);
        Duration fatalAfter = parse(v, "gpu-probe-fatal-after", problems, AgentConfig::positiveDuration);
        if (probeInterval != null && probeTimeout != null && degradedAfter != null
                && degradedAfter.compareTo(probeInterval.plus(probeTimeout)) <= 0) {
            problems.add(describe("gpu-probe-degraded-after") + ": must exceed gpu-probe-interval + gpu-probe-timeout ("
                    + probeInterval.plus(probeTimeout).toMillis() + " ms) so one slow reading is no fault, got "
                    + degradedAfter.toMillis() + " ms");
        }
        if (degradedAfter != null && fatalAfter != null && fatalAfter.compareTo(degradedAfter) <= 0) {
            problems.add(describe("gpu-probe-fatal-after") + ": must exceed gpu-probe-degraded-after ("
                    + degradedAfter.toMillis() + " ms), got " + fatalAfter.toMillis() + " ms");
        }
        String fault = v.get("fault-file");
        Integer fakeGpus = parse(v, "fake-gpus", problems, s -> intAtLeast(s, 0));
        Map<ProgramRef, List<String>> programs = parse(v, "programs", problems, AgentConfig::programs);
        Boolean warmRestart = parse(v, "warm-restart", problems, AgentConfig::bool);
        Boolean hotSpare = parse(v, "hot-spare", problems, AgentConfig::bool);
        Duration ackTimeout = parse(v, "warm-ack-timeout", problems, AgentConfig::positiveDuration);
        Duration keep = parse(v, "warm-keep", problems, AgentConfig::positiveDuration);
        if (batch != null && buffer != null && buffer < batch) {
            problems.add(describe("report-buffer") + ": must be at least report-batch (" + batch + "), got "
                    + buffer);
        }
        if (!problems.isEmpty()) {
            throw new InvalidConfigException(problems);
        }
        return new AgentConfig(urls, token, nodeName, advertiseHost, labels, stateDir, checkpointRoot, command,
                stopGrace, requestTimeout, caFile, reportFlush, batch, buffer, tail,
                trainerLogDir.isEmpty() ? null : Path.of(trainerLogDir), nvidiaSmi, probeInterval, probeTimeout,
                degradedAfter, fatalAfter, fault == null || fault.isBlank() ? null : Path.of(fault), fakeGpus,
                programs, new WarmSettings(warmRestart, hotSpare, ackTimeout, keep));
    }

    private static Boolean bool(String s) {
        return switch (s.trim()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("must be true or false");
        };
    }

    static String envName(String key) {
        return "STEADYRUN_" + key.toUpperCase().replace('-', '_');
    }

    private static String describe(String key) {
        return key + " (--" + key + ", " + envName(key) + ")";
    }

    private static Map<String, String> parseFlags(String[] args, List<String> problems) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                problems.add("unexpected argument '" + arg + "' (settings are given as --key value)");
                continue;
            }
            String key = arg.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                problems.add("--" + key + ": missing value");
                continue;
            }
            flags.put(key, value);
        }
        return flags;
    }

    private static Map<String, String> readFile(Path file, List<String> problems) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(file)) {
            props.load(reader);
        } catch (IOException e) {
            problems.add("config (--config): cannot read " + file + ": " + e.getMessage());
        }
        Map<String, String> values = new HashMap<>();
        props.forEach((k, val) -> values.put(k.toString().trim(), val.toString().trim()));
        return values;
    }

    private static <T> T parse(Map<String, String> v, String key, List<String> problems, Function<String, T> parser) {
        String raw = v.get(key);
        if (raw == null || (raw.isBlank() && !DEFAULTS.containsKey(key))) {
            problems.add(describe(key) + ": is required");
            return null;
        }
        try {
            return parser.apply(raw.trim());
        } catch (IllegalArgumentException | DateTimeParseException e) {
            problems.add(describe(key) + ": " + e.getMessage() + ", got '" + raw + "'");
            return null;
        }
    }

    private static String required(Map<String, String> v, String key, List<String> problems) {
        String raw = v.get(key);
        if (raw == null || raw.isBlank()) {
            problems.add(describe(key) + ": is required");
            return null;
        }
        return raw.trim();
    }

    private static List<URI> httpUrls(String s) {
        List<URI> urls = new ArrayList<>();
        for (String one : s.split(",", -1)) {
            URI url = httpUrl(one.trim());
            if (urls.contains(url)) {
                throw new IllegalArgumentException("names " + url + " twice");
            }
            urls.add(url);
        }
        return urls;
    }

    private static URI httpUrl(String s) {
        URI uri;
        try {
            uri = URI.create(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("is not a URL");
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException("must be an http:// or https:// URL with a host");
        }
        return s.endsWith("/") ? URI.create(s.substring(0, s.length() - 1)) : uri;
    }

    private static Map<String, String> labels(String s) {
        Map<String, String> labels = new LinkedHashMap<>();
        if (s.isBlank()) {
            return labels;
        }
        for (String pair : s.split(",")) {
            int eq = pair.indexOf('=');
            if (eq <= 0 || eq == pair.length() - 1) {
                throw new IllegalArgumentException("must be key=value pairs separated by commas");
            }
            labels.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
        }
        return labels;
    }

    /** {@code name@version=command;…}: each program once, never the built-in one, each with a command. */
    private static Map<ProgramRef, List<String>> programs(String s) {
        Map<ProgramRef, List<String>> programs = new LinkedHashMap<>();
        if (s.isBlank()) {
            return programs;
        }
        for (String entry : s.split(";")) {
            int eq = entry.indexOf('=');
            int at = entry.indexOf('@');
            if (eq <= 0 || at <= 0 || at > eq) {
                throw new IllegalArgumentException("must be name@version=command entries separated by ';'");
            }
            ProgramRef ref = new ProgramRef(entry.substring(0, at).trim(), entry.substring(at + 1, eq).trim());
            if (!ref.valid()) {
                throw new IllegalArgumentException("'" + ref + "': a name of 1-63 lower-case letters, digits, '.',"
                        + " '_' or '-' and a version of 1-64 letters, digits, '.', '_', '+' or '-'");
            }
            if (ref.name().equals(ProgramRef.BUILT_IN.name())) {
                throw new IllegalArgumentException("'" + ref.name() + "' is the built-in trainer: set trainer-command");
            }
            if (programs.put(ref, command(entry.substring(eq + 1))) != null) {
                throw new IllegalArgumentException("names " + ref + " twice");
            }
        }
        if (programs.size() > ProgramRef.MAX_PER_AGENT) {
            throw new IllegalArgumentException("at most " + ProgramRef.MAX_PER_AGENT + " programs");
        }
        return programs;
    }

    /** The file must hold PEM certificates now, not at the first https call. */
    private static Path caFile(String s) {
        Path file = Path.of(s);
        OrchestratorClient.trusting(file);
        return file;
    }

    private static List<String> command(String s) {
        if (s.isBlank()) {
            throw new IllegalArgumentException("must not be empty");
        }
        return Arrays.asList(s.trim().split("\\s+"));
    }

    /** Accepts {@code 500ms}, {@code 30s}, {@code 2m} or an ISO-8601 duration such as {@code PT30S}. */
    static Duration positiveDuration(String s) {
        Duration d;
        if (s.startsWith("P") || s.startsWith("p")) {
            d = Duration.parse(s);
        } else if (s.matches("\\d+ms")) {
            d = Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
        } else if (s.matches("\\d+s")) {
            d = Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
        } else if (s.matches("\\d+m")) {
            d = Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
        } else {
            throw new IllegalArgumentException("must be a duration such as 500ms, 30s, 2m or PT30S");
        }
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("must be positive");
        }
        return d;
    }

    private static int intAtLeast(String s, int min) {
        int n;
        try {
            n = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be a whole number");
        }
        if (n < min) {
            throw new IllegalArgumentException("must be at least " + min);
        }
        return n;
    }

    static String localHostName() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "node-" + ProcessHandle.current().pid();
        }
    }
}
