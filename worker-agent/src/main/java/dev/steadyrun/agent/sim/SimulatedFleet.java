package dev.steadyrun.agent.sim;

import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

import dev.steadyrun.agent.Agent;
import dev.steadyrun.agent.gpu.FakeGpus;
import dev.steadyrun.agent.gpu.GpuReport;
import dev.steadyrun.agent.lease.Backoff;
import dev.steadyrun.agent.lease.CredentialStore;
import dev.steadyrun.agent.lease.LeaseLoop;
import dev.steadyrun.agent.lease.OrchestratorClient;
import dev.steadyrun.agent.report.LogBuffer;
import dev.steadyrun.agent.report.ReportBuffer;
import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.RegisterRequest;

/**
 * TEST TOOL — many simulated nodes in one JVM, for load and chaos tests of the orchestrator. Each node has fake
 * GPUs and a {@link SyntheticTrainer} driven by a {@link Scenario}, but talks to the orchestrator through the
 * REAL {@link OrchestratorClient}, {@link LeaseLoop} and {@link ReportBuffer} of the agent. All nodes share one
 * scheduler and one HTTP client, so a thousand nodes cost a few threads.
 *
 * <pre>
 * java -cp worker-agent.jar:… dev.steadyrun.agent.sim.SimulatedFleet --url http://localhost:8080 \
 *     --join-token T --nodes 1000 --scenario scenario.json [--gpus-per-node 8]
 *     [--threads 64] [--ramp-seconds 10] [--name-prefix sim] [--seconds 0 (run until killed)]
 * </pre>
 */
public final class SimulatedFleet implements AutoCloseable {

    /** One simulated node, exposed for tests. */
    public record Node(String name, LeaseLoop lease, ReportBuffer reports) {
    }

    private final ScheduledExecutorService scheduler;
    private final List<Node> nodes = new ArrayList<>();
    private final List<SyntheticTrainer> trainers = new ArrayList<>();

    public SimulatedFleet(URI url, String joinToken, int count, int gpusPerNode, Scenario scenario, int threads,
                          String namePrefix, long seed) {
        AtomicInteger threadNo = new AtomicInteger();
        this.scheduler = Executors.newScheduledThreadPool(threads, r -> {
            Thread t = new Thread(r, "sim-fleet-" + threadNo.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        Duration timeout = Duration.ofSeconds(10);
        OrchestratorClient client = new OrchestratorClient(url, OrchestratorClient.newHttpClient(timeout, null), timeout);
        RandomGeneratorFactory<RandomGenerator> randoms = RandomGeneratorFactory.of("L64X128MixRandom");
        for (int i = 0; i < count; i++) {
            String name = namePrefix + "-" + i;
            RandomGenerator random = randoms.create(seed + i);
            FakeGpus gpus = new FakeGpus(name, gpusPerNode, random);
            ConcurrentLinkedQueue<Integer> xids = new ConcurrentLinkedQueue<>();
            ReportBuffer reports = new ReportBuffer(20_000, 200);
            SyntheticTrainer trainer = new SyntheticTrainer(i, name, scenario, reports, scheduler,
                    Clock.systemUTC(), random, xids::add);
            RegisterRequest registration = new RegisterRequest(name, name, gpus.inventory(),
                    Map.of("simulated", "true", "rack", "sim-rack-" + (i / 32)), Agent.VERSION + "-sim");
            LeaseLoop lease = new LeaseLoop(client, joinToken, CredentialStore.inMemory(), () -> registration,
                    () -> GpuReport.of(withXids(gpus.health(), xids)), trainer,
                    // a simulated node has no process or trainer process to break: of the chaos faults, only a GPU's
                    fault -> {
                        if (fault.kind() == ChaosFault.Kind.GPU_FAULT) {
                            xids.add(79);
                        }
                    },
                    reports, new LogBuffer(1), scheduler, new Backoff(random), // a synthetic trainer prints no log
                    Duration.ofMillis(500), LeaseTimings.DEFAULT);
            nodes.add(new Node(name, lease, reports));
            trainers.add(trainer);
        }
    }

    /** XIDs the scenario fired since the last heartbeat land on GPU 0. */
    private static List<GpuHealth> withXids(List<GpuHealth> health, ConcurrentLinkedQueue<Integer> xids) {
        if (xids.isEmpty() || health.isEmpty()) {
            return health;
        }
        List<Integer> codes = new ArrayList<>();
        for (Integer code; (code = xids.poll()) != null; ) {
            codes.add(code);
        }
        List<GpuHealth> out = new ArrayList<>(health);
        GpuHealth g = out.get(0);
        out.set(0, new GpuHealth(g.index(), g.temperatureC(), g.memoryUsedMiB(), g.memoryTotalMiB(),
                g.utilizationPct(), g.eccCorrectable(), g.eccUncorrectable(), g.retiredPages(), codes,
                g.nvlinkErrors()));
        return out;
    }

    public void start() {
        start(Duration.ZERO);
    }

    /**
     * Starts the nodes evenly over {@code ramp}. Calls block a scheduler thread while they wait for the
     * orchestrator, so a thousand registrations at once would queue every heartbeat behind them.
     */
    public void start(Duration ramp) {
        long stepNanos = nodes.isEmpty() ? 0 : ramp.toNanos() / nodes.size();
        for (int i = 0; i < nodes.size(); i++) {
            LeaseLoop lease = nodes.get(i).lease();
            scheduler.schedule(lease::start, i * stepNanos, TimeUnit.NANOSECONDS);
        }
    }

    public List<Node> nodes() {
        return List.copyOf(nodes);
    }

    public long registered() {
        return nodes.stream().filter(n -> n.lease().nodeId().isPresent()).count();
    }

    public long heartbeats() {
        return nodes.stream().mapToLong(n -> n.lease().heartbeats()).sum();
    }

    @Override
    public void close() {
        nodes.forEach(n -> n.lease().stop());
        trainers.forEach(SyntheticTrainer::shutdown);
        scheduler.shutdownNow();
    }

    public static void main(String[] args) throws Exception {
        // a line per registered node is noise at a thousand nodes; warnings still show
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        Map<String, String> a = flags(args);
        URI url = URI.create(require(a, "url"));
        String token = require(a, "join-token");
        int count = Integer.parseInt(a.getOrDefault("nodes", "100"));
        Scenario scenario = Scenario.read(Path.of(require(a, "scenario")));
        int gpus = Integer.parseInt(a.getOrDefault("gpus-per-node", "8"));
        int threads = Integer.parseInt(a.getOrDefault("threads", "64"));
        Duration ramp = Duration.ofSeconds(Long.parseLong(a.getOrDefault("ramp-seconds", "10")));
        long seconds = Long.parseLong(a.getOrDefault("seconds", "0"));
        try (SimulatedFleet fleet = new SimulatedFleet(url, token, count, gpus, scenario, threads,
                a.getOrDefault("name-prefix", "sim"), 42)) {
            fleet.start(ramp);
            long start = System.nanoTime();
            long lastBeats = 0;
            while (seconds == 0 || System.nanoTime() - start < seconds * 1_000_000_000L) {
                Thread.sleep(5000);
                long beats = fleet.heartbeats();
                System.out.printf("t=%ds registered=%d/%d heartbeats=%d (%.0f/s)%n",
                        (System.nanoTime() - start) / 1_000_000_000L, fleet.registered(), count, beats,
                        (beats - lastBeats) / 5.0);
                lastBeats = beats;
            }
        }
    }

    private static Map<String, String> flags(String[] args) {
        Map<String, String> m = new java.util.HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value, got '" + args[i] + "'");
            }
            m.put(args[i].substring(2), args[i + 1]);
        }
        return m;
    }

    private static String require(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }
}
