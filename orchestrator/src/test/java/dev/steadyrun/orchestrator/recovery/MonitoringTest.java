package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;

import dev.steadyrun.orchestrator.PromQl;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MappingIterator;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * What Prometheus and Grafana get: a run trains, loses a node and restarts at a new generation through the real agent
 * API; then the real {@code /actuator/prometheus} (management port) carries the run's training figures under its
 * {@code run} label, and every metric that the chart's alert rules and Grafana dashboard use (rendered by Helm as a
 * cluster gets them) is in that scrape. A panel or rule for a metric the orchestrator does not export fails here.
 */
class MonitoringTest extends RecoverySupport {

    private static final Path CHART = Path.of("../helm/steadyrun").toAbsolutePath().normalize();
    /** Series Prometheus makes itself for every target, never in a scrape. */
    private static final Set<String> MADE_BY_PROMETHEUS = Set.of("up");

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void aRunsFiguresAreExportedWhileItLivesAndEveryMetricOfTheDashboardAndRulesIsInTheScrape() {
        double suspectBefore = sample(prometheus(), "steadyrun_node_losses_total", "state=\"SUSPECT\"");
        double failedBefore = sample(prometheus(), "steadyrun_node_losses_total", "state=\"FAILED\"");
        long eventsBefore = jdbc.queryForObject("select coalesce(max(id), 0) from node_event", Long.class);
        TwoRanksAndASpare gen1 = twoRanksAndASpare(Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        UUID runId = gen1.runId();
        Agent survivor = gen1.rank0();
        Agent lost = gen1.rank1();
        Agent spare = gen1.spare();
        assertThat(steps(survivor, runId, 0, 1, healthySteps(1, 10), List.of(checkpoint(runId, 10, 2.0))).status())
                .isEqualTo(204);
        assertThat(steps(lost, runId, 1, 1, healthySteps(1, 10), List.of()).status()).isEqualTo(204);
        recovery.watch(clock.instant());
        String training = prometheus();
        assertThat(sample(training, "steadyrun_run_step", runLabel(runId))).isEqualTo(10.0);
        assertThat(sample(training, "steadyrun_run_restart_count", runLabel(runId))).isZero();

        // rank 1's node goes silent: lost (SUSPECT), then FAILED; the run restarts on the spare at generation 2
        clock.advance(Duration.ofSeconds(3));
        heartbeat(survivor, trainer(TrainerState.RUNNING, runId, 0, 1));
        heartbeat(spare, TrainerStatus.idle());
        sweeper.sweep(clock.instant());
        assertThat(nodeState(lost.id())).isEqualTo("SUSPECT");
        for (int i = 0; i < 3; i++) {
            clock.advance(Duration.ofSeconds(2));
            heartbeat(survivor, trainer(TrainerState.RUNNING, runId, 0, 1));
            heartbeat(spare, TrainerStatus.idle());
        }
        sweeper.sweep(clock.instant());
        assertThat(nodeState(lost.id())).isEqualTo("FAILED");
        recovery.watch(clock.instant());
        assertThat(sample(prometheus(), "steadyrun_run_step", runLabel(runId))).as("recovering: the last step stays")
                .isEqualTo(10.0);
        heartbeat(survivor, exited(runId, 0, 1, 5, null));
        scheduling.runOnce();
        awaitState(operator, runId, RunState.STARTING);
        Map<Integer, Agent> gen2 = ranks(List.of(survivor, spare), 2);
        assertThat(gen2).containsOnlyKeys(0, 1);
        // generation 2 restores step 10 and trains on, in FP16 with a loss scale of 8192
        List<StepMetrics> resumed = List.of(fp16Step(11, 2.5), fp16Step(12, 2.4));
        assertThat(steps(gen2.get(0), runId, 0, 2, resumed, List.of()).status()).isEqualTo(204);
        assertThat(steps(gen2.get(1), runId, 1, 2, resumed, List.of()).status()).isEqualTo(204);
        recovery.watch(clock.instant());

        String scrape = prometheus();
        assertThat(sample(scrape, "steadyrun_run_step", runLabel(runId))).isEqualTo(12.0);
        assertThat(sample(scrape, "steadyrun_run_loss", runLabel(runId))).isEqualTo(2.4);
        assertThat(sample(scrape, "steadyrun_run_loss_scale", runLabel(runId))).isEqualTo(8192.0);
        assertThat(sample(scrape, "steadyrun_run_tokens_per_second", runLabel(runId))).isEqualTo(750.0);
        assertThat(sample(scrape, "steadyrun_run_restart_count", runLabel(runId))).isEqualTo(1.0);
        assertThat(sample(scrape, "steadyrun_run_goodput", runLabel(runId)))
                .isCloseTo(run(runId).get("goodput").asDouble(), within(1e-9));
        // the losses are the moves out of service that the node log shows since (other tests' silent nodes were
        // swept too): this run's node counts once, HEALTHY → SUSPECT; its SUSPECT → FAILED is the same loss
        assertThat(lossesLogged(eventsBefore, "SUSPECT", lost.id())).isEqualTo(1);
        assertThat(lossesLogged(eventsBefore, "FAILED", lost.id())).isZero();
        assertThat(sample(scrape, "steadyrun_node_losses_total", "state=\"SUSPECT\""))
                .isEqualTo(suspectBefore + lossesLogged(eventsBefore, "SUSPECT", null));
        assertThat(sample(scrape, "steadyrun_node_losses_total", "state=\"FAILED\""))
                .isEqualTo(failedBefore + lossesLogged(eventsBefore, "FAILED", null));

        Set<String> exported = metricNames(scrape);
        Map<String, Set<String>> used = usedByChart();
        assertThat(used).as("expressions read from the chart").hasSizeGreaterThan(20);
        Map<String, Set<String>> missing = new TreeMap<>();
        used.forEach((where, names) -> names.stream()
                .filter(n -> !exported.contains(n) && !MADE_BY_PROMETHEUS.contains(n))
                .forEach(n -> missing.computeIfAbsent(n, k -> new TreeSet<>()).add(where)));
        assertThat(missing).as("metrics the dashboard or the alert rules use that /actuator/prometheus lacks")
                .isEmpty();

        // the run ends: its series leave at the next watch, the fleet's stay
        assertThat(call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null).body().path("state").asString())
                .isEqualTo("CANCELLING");
        recovery.watch(clock.instant());
        String after = prometheus();
        assertThat(after).doesNotContain(runId.toString()).contains("steadyrun_nodes{");
    }

    /**
     * Node-log moves into {@code to} from a state in service, after event {@code afterId} (of one node, or all), of
     * nodes that were ever in service (a node cordoned before its first heartbeat never was).
     */
    private long lossesLogged(long afterId, String to, UUID node) {
        return jdbc.queryForObject("""
                select count(*) from node_event e where e.id > ? and e.to_state = ?
                and e.from_state in ('HEALTHY', 'SPARE', 'CORDONED', 'DRAINING') and (?::uuid is null or e.node_id = ?)
                and exists (select 1 from node_event h where h.node_id = e.node_id and h.to_state in ('HEALTHY', 'SPARE'))""",
                Long.class, afterId, to, node, node);
    }

    private static StepMetrics fp16Step(long step, double loss) {
        return new StepMetrics(step, (step + 1) * 1024, loss, 0.5, 8192.0, false, 1e-3, 750, 1000, 1 << 30,
                List.of());
    }

    private static String runLabel(UUID runId) {
        return "run=\"" + runId + "\"";
    }

    private static Set<String> metricNames(String scrape) {
        Set<String> names = new TreeSet<>();
        Matcher m = SAMPLE.matcher(scrape);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /**
     * Every expression of the chart's alert rules and Grafana dashboard (its panels' queries and its variables'
     * queries), rendered by Helm with monitoring on, and the metric names each uses; an expression PromQl cannot
     * read fails the test.
     */
    private static Map<String, Set<String>> usedByChart() {
        TemplateCommand template = new Helm(CHART).template().withName("prod").withNamespace("training");
        template.set("metrics.serviceMonitor.enabled", true);
        template.set("metrics.prometheusRule.enabled", true);
        template.set("metrics.grafanaDashboard.enabled", true);
        Map<String, Set<String>> used = new LinkedHashMap<>();
        YAMLMapper yaml = YAMLMapper.builder().build();
        try (MappingIterator<JsonNode> docs = yaml.readerFor(JsonNode.class).readValues(template.call())) {
            while (docs.hasNext()) {
                JsonNode doc = docs.next();
                if (doc == null || doc.isNull() || doc.isEmpty()) {
                    continue;
                }
                String kind = doc.path("kind").asString();
                if (kind.equals("PrometheusRule")) {
                    for (JsonNode group : doc.at("/spec/groups")) {
                        for (JsonNode rule : group.path("rules")) {
                            String expr = rule.path("expr").asString();
                            used.put("rule " + rule.path("alert").asString(), PromQl.metricNames(expr));
                        }
                    }
                } else if (kind.equals("ConfigMap") && doc.at("/metadata/name").asString().endsWith("-dashboard")) {
                    JsonNode dashboard = yaml.readTree(doc.at("/data/steadyrun.json").asString());
                    for (JsonNode panel : dashboard.findParents("targets")) {
                        for (JsonNode target : panel.path("targets")) {
                            used.put("panel '" + panel.path("title").asString() + "' " + target.path("refId")
                                    .asString(), PromQl.metricNames(target.path("expr").asString()));
                        }
                    }
                    for (JsonNode variable : dashboard.at("/templating/list")) {
                        if (variable.path("type").asString().equals("query")) {
                            used.put("variable " + variable.path("name").asString(),
                                    labelValuesQuery(variable.at("/query/query").asString()));
                        }
                    }
                }
            }
        }
        return used;
    }

    /** Grafana's {@code label_values(selector, label)}: the selector's metric names. */
    private static Set<String> labelValuesQuery(String query) {
        Matcher m = Pattern.compile("label_values\\((.+),\\s*[a-zA-Z_][a-zA-Z0-9_]*\\)").matcher(query.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a label_values(selector, label) query: " + query);
        }
        return PromQl.metricNames(m.group(1));
    }
}
