package dev.steadyrun.deploy;

import static dev.steadyrun.deploy.Manifests.all;
import static dev.steadyrun.deploy.Manifests.named;
import static dev.steadyrun.deploy.Manifests.one;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Helm chart, rendered by Helm's own library with several value sets and read back strictly as Kubernetes
 * objects ({@link Manifests}): what a cluster would be given is checked, not the template text.
 */
class HelmChartTest {

    private static final Path CHART = Path.of("../helm/steadyrun").toAbsolutePath().normalize();
    private static final String RELEASE = "prod";
    private static final String ORCHESTRATOR = "prod-steadyrun-orchestrator";
    private static final String AGENT = "prod-steadyrun-agent";
    private static final String[] SECRET_ENV = {"STEADYRUN_JOIN_TOKEN", "STEADYRUN_BOOTSTRAP_ADMIN_TOKEN",
            "STEADYRUN_ALERTS_SECRETKEY", "SPRING_DATASOURCE_PASSWORD"};

    @Test
    void lintsCleanEvenStrictly() {
        LintResult lint = new Helm(CHART).lint().strict().call();

        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
    }

    @Test
    void defaultsDeployAnActiveAndAStandbyBehindOneServiceAndAnAgentPerGpuNode() {
        List<HasMetadata> objects = render(Map.of());

        Deployment orchestrator = named(objects, Deployment.class, ORCHESTRATOR);
        assertThat(orchestrator.getSpec().getReplicas()).isEqualTo(2);
        // a rolling update would wait forever for a standby to become ready (only the lock holder is)
        assertThat(orchestrator.getSpec().getStrategy().getType()).isEqualTo("Recreate");
        Container api = container(orchestrator.getSpec().getTemplate().getSpec(), "orchestrator");
        assertThat(api.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
        assertThat(api.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
        assertThat(api.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/livez");
        assertThat(api.getStartupProbe().getHttpGet().getPath()).isEqualTo("/livez");
        assertThat(env(api, "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADDADDITIONALPATHS")).isEqualTo("true");
        assertThat(api.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(api.getResources().getLimits()).containsKey("memory");

        // the Service selects exactly the orchestrator's pods, on the API port only
        Service service = named(objects, Service.class, ORCHESTRATOR);
        assertThat(orchestrator.getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(service.getSpec().getSelector());
        assertThat(named(objects, DaemonSet.class, AGENT).getSpec().getTemplate().getMetadata().getLabels())
                .doesNotContainEntry("app.kubernetes.io/component", "orchestrator");
        assertThat(service.getSpec().getPorts()).extracting(ServicePort::getTargetPort)
                .extracting(t -> t.getStrVal()).containsExactly("http");
        assertThat(port(api, "http")).isEqualTo(8080);
        assertThat(port(api, "management")).isEqualTo(9090);
        assertThat(env(api, "MANAGEMENT_SERVER_PORT")).isEqualTo("9090");

        PodDisruptionBudget pdb = one(objects, PodDisruptionBudget.class);
        assertThat(orchestrator.getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(pdb.getSpec().getSelector().getMatchLabels());
        assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);

        DaemonSet agents = named(objects, DaemonSet.class, AGENT);
        PodSpec agentPod = agents.getSpec().getTemplate().getSpec();
        assertThat(agentPod.getNodeSelector()).containsEntry("nvidia.com/gpu.present", "true");
        Container agent = container(agentPod, "agent");
        assertThat(agent.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("8"));
        assertThat(agent.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(envVar(agent, "STEADYRUN_URL").getValue()).isEqualTo("http://" + ORCHESTRATOR + ":8080");

        assertThat(all(objects, ServiceMonitor.class)).isEmpty();
        assertThat(all(objects, PrometheusRule.class)).isEmpty();
        assertThat(all(objects, ConfigMap.class)).isEmpty();
    }

    @Test
    void agentsAdvertiseTheirPodIpSoThatRanksMeetAcrossNodes() {
        Container agent = container(named(render(Map.of()), DaemonSet.class, AGENT).getSpec().getTemplate()
                .getSpec(), "agent");

        EnvVar advertise = envVar(agent, "STEADYRUN_ADVERTISE_HOST");
        assertThat(advertise.getValue()).isNull();
        assertThat(advertise.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.podIP");
        assertThat(envVar(agent, "STEADYRUN_NODE_NAME").getValueFrom().getFieldRef().getFieldPath())
                .isEqualTo("spec.nodeName");
    }

    @Test
    void theOrchestratorsCheckpointRootIsWhereEveryAgentMountsTheSharedVolume() {
        for (Map<String, Object> values : List.<Map<String, Object>>of(Map.of(),
                Map.of("checkpoints.mountPath", "/shared/ckpt", "checkpoints.existingClaim", "team-ckpt"))) {
            List<HasMetadata> objects = render(values);
            Container api = container(named(objects, Deployment.class, ORCHESTRATOR).getSpec().getTemplate()
                    .getSpec(), "orchestrator");
            PodSpec agentPod = named(objects, DaemonSet.class, AGENT).getSpec().getTemplate().getSpec();
            Container agent = container(agentPod, "agent");

            String root = env(api, "STEADYRUN_RUNS_CHECKPOINTROOT");
            assertThat(root).isEqualTo(values.getOrDefault("checkpoints.mountPath",
                    "/var/lib/steadyrun/checkpoints"));
            assertThat(env(agent, "STEADYRUN_CHECKPOINT_ROOT")).isEqualTo(root);
            VolumeMount mount = agent.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(root))
                    .findFirst().orElseThrow(() -> new AssertionError("no agent mount at " + root));
            assertThat(mount.getReadOnly()).isNotEqualTo(Boolean.TRUE);
            Volume volume = volume(agentPod, mount.getName());
            String claim = volume.getPersistentVolumeClaim().getClaimName();
            if (values.containsKey("checkpoints.existingClaim")) {
                assertThat(claim).isEqualTo("team-ckpt");
                assertThat(all(objects, PersistentVolumeClaim.class)).isEmpty();
            } else {
                PersistentVolumeClaim pvc = named(objects, PersistentVolumeClaim.class, claim);
                assertThat(pvc.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
            }
        }
    }

    @Test
    void aCreatedSecretHoldsTheValuesAndOtherManifestsOnlyReferenceIt() {
        String join = "join-token-from-values-0123456789";
        String admin = "admin-token-from-values-0123456789";
        String key = b64("0123456789abcdef0123456789abcdef");
        String yaml = template(Map.of("secrets.create", true, "secrets.joinToken", join,
                "secrets.bootstrapAdminToken", admin, "secrets.webhookSecretKey", key));
        List<HasMetadata> objects = Manifests.parse(yaml);

        Secret secret = one(objects, Secret.class);
        assertThat(secret.getMetadata().getName()).isEqualTo("steadyrun-tokens");
        assertThat(decoded(secret, "join-token")).isEqualTo(join);
        assertThat(decoded(secret, "bootstrap-admin-token")).isEqualTo(admin);
        assertThat(decoded(secret, "webhook-secret-key")).isEqualTo(key);
        String others = yaml.replace(secretDocument(yaml), "");
        for (String value : List.of(join, admin, key)) {
            assertThat(others).doesNotContain(value).doesNotContain(b64(value));
        }
        assertSecretsReferenced(objects, "steadyrun-tokens");
    }

    @Test
    void byDefaultAnExistingSecretIsReferencedAndNoneIsCreated() {
        for (Map<String, Object> values : List.<Map<String, Object>>of(Map.of(),
                Map.of("secrets.name", "vault-synced"))) {
            List<HasMetadata> objects = render(values);

            assertThat(all(objects, Secret.class)).isEmpty();
            assertSecretsReferenced(objects, (String) values.getOrDefault("secrets.name", "steadyrun-tokens"));
        }
    }

    @Test
    void aCreatedSecretNeedsEveryValueInItsShape() {
        Map<String, Object> good = Map.of("secrets.create", true, "secrets.joinToken", "j".repeat(16),
                "secrets.bootstrapAdminToken", "a".repeat(20), "secrets.webhookSecretKey", b64("k".repeat(24)));
        assertThat(Manifests.parse(template(good))).hasAtLeastOneElementOfType(Secret.class);

        assertThatThrownBy(() -> template(with(good, "secrets.joinToken", "short")))
                .hasMessageContaining("secrets.joinToken must have at least 16 characters");
        assertThatThrownBy(() -> template(with(good, "secrets.bootstrapAdminToken", "")))
                .hasMessageContaining("secrets.bootstrapAdminToken is required");
        assertThatThrownBy(() -> template(with(good, "secrets.webhookSecretKey", b64("too short"))))
                .hasMessageContaining("secrets.webhookSecretKey must be base64 of 16, 24 or 32 bytes");
    }

    @Test
    void gpuCountComesFromValues() {
        Container agent = container(named(render(Map.of("agent.gpusPerNode", 4)), DaemonSet.class, AGENT)
                .getSpec().getTemplate().getSpec(), "agent");

        assertThat(agent.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("4"));
    }

    @Test
    void snapshotsLiveInNodeMemoryWhereTheAgentIsToldTheyAreAndOnlyWhenEnabled() {
        PodSpec pod = named(render(Map.of("agent.snapshots.sizeLimit", "32Gi")), DaemonSet.class, AGENT).getSpec()
                .getTemplate().getSpec();
        Container agent = container(pod, "agent");
        String root = env(agent, "STEADYRUN_SNAPSHOT_ROOT");
        VolumeMount mount = agent.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(root))
                .findFirst().orElseThrow(() -> new AssertionError("no agent mount at " + root));
        assertThat(volume(pod, mount.getName()).getEmptyDir().getMedium()).isEqualTo("Memory");
        assertThat(volume(pod, mount.getName()).getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("32Gi"));

        PodSpec without = named(render(Map.of("agent.snapshots.enabled", false)), DaemonSet.class, AGENT).getSpec()
                .getTemplate().getSpec();
        assertThat(container(without, "agent").getEnv()).noneMatch(e -> e.getName().equals("STEADYRUN_SNAPSHOT_ROOT"));
        assertThat(without.getVolumes()).noneMatch(v -> v.getEmptyDir() != null
                && "Memory".equals(v.getEmptyDir().getMedium()));
    }

    @Test
    void kmsgIsMountedForXidsWithTheDocumentedPrivilegeAndOnlyThen() {
        PodSpec withKmsg = named(render(Map.of()), DaemonSet.class, AGENT).getSpec().getTemplate().getSpec();
        Container agent = container(withKmsg, "agent");
        VolumeMount kmsg = agent.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/dev/kmsg"))
                .findFirst().orElseThrow();
        assertThat(kmsg.getReadOnly()).isTrue();
        assertThat(volume(withKmsg, kmsg.getName()).getHostPath().getPath()).isEqualTo("/dev/kmsg");
        assertThat(volume(withKmsg, kmsg.getName()).getHostPath().getType()).isEqualTo("CharDevice");
        assertThat(agent.getSecurityContext().getPrivileged()).isTrue();
        assertThat(agent.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();

        PodSpec without = named(render(Map.of("agent.kmsg", false)), DaemonSet.class, AGENT).getSpec()
                .getTemplate().getSpec();
        Container plain = container(without, "agent");
        assertThat(plain.getVolumeMounts()).noneMatch(m -> m.getMountPath().equals("/dev/kmsg"));
        assertThat(without.getVolumes()).noneMatch(v -> v.getHostPath() != null
                && v.getHostPath().getPath().equals("/dev/kmsg"));
        assertThat(plain.getSecurityContext().getPrivileged()).isNull();
        assertThat(plain.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(plain.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(without.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(without.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
    }

    @Test
    void theOrchestratorRunsUnprivilegedOnAReadOnlyRoot() {
        PodSpec pod = named(render(Map.of()), Deployment.class, ORCHESTRATOR).getSpec().getTemplate().getSpec();
        Container api = container(pod, "orchestrator");

        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
        assertThat(api.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(api.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(api.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        // the JVM's temporary files (Tomcat's work directory) go to a writable emptyDir
        VolumeMount tmp = api.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/tmp")).findFirst()
                .orElseThrow();
        assertThat(volume(pod, tmp.getName()).getEmptyDir()).isNotNull();
    }

    @Test
    void tlsServesHttpsAndAgentsTrustTheCa() {
        List<HasMetadata> objects = render(Map.of("tls.enabled", true, "tls.secretName", "orchestrator-tls"));

        PodSpec apiPod = named(objects, Deployment.class, ORCHESTRATOR).getSpec().getTemplate().getSpec();
        Container api = container(apiPod, "orchestrator");
        assertThat(env(api, "SERVER_SSL_ENABLED")).isEqualTo("true");
        String mounted = mountOf(api, volumeWithSecret(apiPod, "orchestrator-tls"));
        assertThat(env(api, "SERVER_SSL_CERTIFICATE")).isEqualTo(mounted + "/tls.crt");
        assertThat(env(api, "SERVER_SSL_CERTIFICATEPRIVATEKEY")).isEqualTo(mounted + "/tls.key");
        assertThat(api.getReadinessProbe().getHttpGet().getScheme()).isEqualTo("HTTPS");

        PodSpec agentPod = named(objects, DaemonSet.class, AGENT).getSpec().getTemplate().getSpec();
        Container agent = container(agentPod, "agent");
        assertThat(env(agent, "STEADYRUN_URL")).isEqualTo("https://" + ORCHESTRATOR + ":8080");
        String ca = mountOf(agent, volumeWithSecret(agentPod, "orchestrator-tls"));
        assertThat(env(agent, "STEADYRUN_CA_FILE")).isEqualTo(ca + "/ca.crt");

        assertThatThrownBy(() -> template(Map.of("tls.enabled", true)))
                .hasMessageContaining("tls.secretName is required");
    }

    @Test
    void metricsAreScrapedOnlyFromTheManagementPortThroughTheirOwnService() {
        List<HasMetadata> objects = render(Map.of("metrics.serviceMonitor.enabled", true,
                "metrics.prometheusRule.enabled", true, "metrics.serviceMonitor.labels.release", "kps"));

        ServiceMonitor monitor = one(objects, ServiceMonitor.class);
        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kps");
        Service metrics = named(objects, Service.class, ORCHESTRATOR + "-metrics");
        assertThat(metrics.getMetadata().getLabels())
                .containsAllEntriesOf(monitor.getSpec().getSelector().getMatchLabels());
        assertThat(named(objects, Service.class, ORCHESTRATOR).getMetadata().getLabels())
                .doesNotContainEntry("app.kubernetes.io/component", "orchestrator-metrics");
        assertThat(monitor.getSpec().getEndpoints()).singleElement().satisfies(e -> {
            assertThat(e.getPath()).isEqualTo("/actuator/prometheus");
            assertThat(e.getPort()).isEqualTo("management");
        });
        assertThat(metrics.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("management");
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("management");
        });
        // the standby is never ready and is scraped anyway
        assertThat(metrics.getSpec().getPublishNotReadyAddresses()).isTrue();
        Deployment orchestrator = named(objects, Deployment.class, ORCHESTRATOR);
        assertThat(orchestrator.getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(metrics.getSpec().getSelector());
        // the API's Service carries no metrics port
        assertThat(named(objects, Service.class, ORCHESTRATOR).getSpec().getPorts())
                .extracting(p -> p.getTargetPort().getStrVal()).doesNotContain("management");

        PrometheusRule rule = one(objects, PrometheusRule.class);
        assertThat(rule.getSpec().getGroups()).singleElement().satisfies(g -> assertThat(g.getRules())
                .extracting(r -> r.getAlert()).contains("SteadyrunOrchestratorDown", "SteadyrunStandbyMissing"));
        assertThat(rule.getSpec().getGroups().get(0).getRules())
                .allSatisfy(r -> assertThat(r.getExpr().getStrVal())
                        .contains("job=\"" + metrics.getMetadata().getName() + "\""));
    }

    @Test
    void alertRulesTakeTheirThresholdsFromValues() {
        Map<String, Object> on = Map.of("metrics.prometheusRule.enabled", true);
        Map<String, Object> tuned = new LinkedHashMap<>(on);
        tuned.put("metrics.prometheusRule.nodeLossesPerHour", 10);
        tuned.put("metrics.prometheusRule.noProgressWindow", "2h");
        tuned.put("metrics.prometheusRule.goodputThreshold", 0.85);
        tuned.put("metrics.prometheusRule.goodputFor", "3h");
        for (Map<String, Object> values : List.of(on, tuned)) {
            boolean isTuned = values == tuned;
            Map<String, Rule> rules = new LinkedHashMap<>();
            one(render(values), PrometheusRule.class).getSpec().getGroups().get(0).getRules()
                    .forEach(r -> rules.put(r.getAlert(), r));

            assertThat(rules).containsKeys("SteadyrunOrchestratorDown", "SteadyrunNodeLossRate",
                    "SteadyrunRunNoProgress", "SteadyrunRestartBudgetExhausted", "SteadyrunGoodputLow",
                    "SteadyrunWebhookDeadLetters");
            assertThat(rules.values()).allSatisfy(r -> {
                assertThat(r.getLabels()).containsKey("severity");
                assertThat(r.getAnnotations().get("summary")).isNotBlank().doesNotContain("<no value>");
                assertThat(r.getExpr().getStrVal()).doesNotContain("<no value>");
            });
            assertThat(expr(rules, "SteadyrunNodeLossRate"))
                    .contains("steadyrun_node_losses_total").endsWith("[1h])) > " + (isTuned ? "10" : "3"));
            String window = isTuned ? "2h" : "30m";
            assertThat(expr(rules, "SteadyrunRunNoProgress")).contains("steadyrun_run_step")
                    .contains("[" + window + "])) <=").endsWith("[" + window + "] offset " + window + "))");
            assertThat(expr(rules, "SteadyrunGoodputLow")).contains("steadyrun_run_goodput")
                    .endsWith(" < " + (isTuned ? "0.85" : "0.6"));
            assertThat(rules.get("SteadyrunGoodputLow").getFor()).isEqualTo(isTuned ? "3h" : "1h");
            assertThat(expr(rules, "SteadyrunRestartBudgetExhausted"))
                    .contains("steadyrun_run_restart_budget_exhausted_total");
            assertThat(expr(rules, "SteadyrunWebhookDeadLetters")).contains("outcome=\"dead_lettered\"");
            // Prometheus' own template variables reach it unrendered by Helm
            assertThat(rules.get("SteadyrunRunNoProgress").getAnnotations().get("summary"))
                    .contains("{{ $labels.run }}");
        }
    }

    @Test
    void theGrafanaDashboardIsAConfigMapForTheSidecarHoldingTheChartsFileAsItIs() throws IOException {
        String file = Files.readString(CHART.resolve("dashboards/steadyrun.json"));
        Map<String, Object> on = Map.of("metrics.grafanaDashboard.enabled", true);
        Map<String, Object> relabelled = new LinkedHashMap<>(on);
        relabelled.put("metrics.grafanaDashboard.labels.grafana_dashboard", "steadyrun");
        relabelled.put("metrics.grafanaDashboard.annotations.grafana_folder", "Training");
        for (Map<String, Object> values : List.of(on, relabelled)) {
            List<HasMetadata> objects = render(values);

            ConfigMap dashboard = one(objects, ConfigMap.class);
            assertThat(dashboard.getMetadata().getName()).isEqualTo("prod-steadyrun-dashboard");
            assertThat(dashboard.getMetadata().getLabels())
                    .containsEntry("grafana_dashboard", values == on ? "1" : "steadyrun")
                    .containsEntry("app.kubernetes.io/instance", RELEASE);
            if (values == relabelled) {
                assertThat(dashboard.getMetadata().getAnnotations()).containsEntry("grafana_folder", "Training");
            }
            String json = dashboard.getData().get("steadyrun.json");
            assertThat(json).isEqualTo(file);
            JsonNode parsed = JsonMapper.builder().build().readTree(json);
            assertThat(parsed.path("uid").asString()).isEqualTo("steadyrun-overview");
            assertThat(parsed.path("panels").findValues("expr")).hasSizeGreaterThan(10);
            // Grafana's legend templates are not Helm's: they reach Grafana as written
            assertThat(json).contains("\"legendFormat\": \"{{run}}\"");
            // the dashboard alone neither needs nor brings the Prometheus Operator's objects
            assertThat(all(objects, ServiceMonitor.class)).isEmpty();
            assertThat(all(objects, PrometheusRule.class)).isEmpty();
        }
    }

    @Test
    void imagesComeFromTheConfiguredRegistryAndTag() {
        List<HasMetadata> objects = render(Map.of("image.registry", "registry.example.com/ml/",
                "image.agent.tag", "0.2.0-rc1", "image.pullSecrets[0]", "regcred"));

        PodSpec api = named(objects, Deployment.class, ORCHESTRATOR).getSpec().getTemplate().getSpec();
        PodSpec agent = named(objects, DaemonSet.class, AGENT).getSpec().getTemplate().getSpec();
        assertThat(container(api, "orchestrator").getImage())
                .isEqualTo("registry.example.com/ml/steadyrun/orchestrator:0.1.0");
        assertThat(container(agent, "agent").getImage()).isEqualTo("registry.example.com/ml/steadyrun/agent:0.2.0-rc1");
        assertThat(agent.getImagePullSecrets()).singleElement().satisfies(s -> assertThat(s.getName())
                .isEqualTo("regcred"));
    }

    @Test
    void theStrictReaderRefusesAFieldKubernetesDoesNotKnow() {
        String deployment = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: x}
                spec:
                  replica: 2
                  selector: {matchLabels: {a: b}}
                  template:
                    metadata: {labels: {a: b}}
                    spec:
                      containers: [{name: c, image: i}]
                """;
        String container = deployment.replace("replica: 2", "replicas: 2").replace("image: i", "image: i, imag: j");

        assertThatThrownBy(() -> Manifests.parse(deployment)).hasMessageContaining("replica");
        assertThatThrownBy(() -> Manifests.parse(container)).hasMessageContaining("imag");
        assertThat(Manifests.parse(deployment.replace("replica: 2", "replicas: 2"))).hasSize(1);
        assertThatThrownBy(() -> Manifests.parse(deployment.replace("apps/v1", "apps/v1beta2")))
                .hasMessageContaining("unexpected object");
    }

    // ---- helpers

    /** Every container's secret settings come from a secretKeyRef, none has a value of its own. */
    private static void assertSecretsReferenced(List<HasMetadata> objects, String secret) {
        for (Container c : containers(objects)) {
            for (String name : SECRET_ENV) {
                Optional<EnvVar> var = c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst();
                var.ifPresent(v -> {
                    assertThat(v.getValue()).as(name).isNull();
                    assertThat(v.getValueFrom().getSecretKeyRef().getName()).as(name).isIn(secret, "steadyrun-db");
                });
            }
        }
        Container api = container(named(objects, Deployment.class, ORCHESTRATOR).getSpec().getTemplate().getSpec(),
                "orchestrator");
        for (String name : SECRET_ENV) {
            assertThat(envVar(api, name).getValueFrom().getSecretKeyRef()).as(name).isNotNull();
        }
        assertThat(envVar(container(named(objects, DaemonSet.class, AGENT).getSpec().getTemplate().getSpec(),
                "agent"), "STEADYRUN_JOIN_TOKEN").getValueFrom().getSecretKeyRef().getName()).isEqualTo(secret);
    }

    private static String expr(Map<String, Rule> rules, String alert) {
        return rules.get(alert).getExpr().getStrVal();
    }

    private static Map<String, Object> with(Map<String, Object> values, String key, Object value) {
        Map<String, Object> copy = new LinkedHashMap<>(values);
        copy.put(key, value);
        return copy;
    }

    private static String template(Map<String, Object> values) {
        TemplateCommand template = new Helm(CHART).template().withName(RELEASE).withNamespace("training");
        new LinkedHashMap<>(values).forEach(template::set);
        return template.call();
    }

    private static List<HasMetadata> render(Map<String, Object> values) {
        return Manifests.parse(template(values));
    }

    private static List<Container> containers(List<HasMetadata> objects) {
        return java.util.stream.Stream.concat(
                all(objects, Deployment.class).stream().flatMap(d -> d.getSpec().getTemplate().getSpec()
                        .getContainers().stream()),
                all(objects, DaemonSet.class).stream().flatMap(d -> d.getSpec().getTemplate().getSpec()
                        .getContainers().stream())).toList();
    }

    private static Container container(PodSpec pod, String name) {
        return pod.getContainers().stream().filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    private static EnvVar envVar(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " has no env " + name));
    }

    private static String env(Container c, String name) {
        return envVar(c, name).getValue();
    }

    private static Integer port(Container c, String name) {
        return c.getPorts().stream().filter(p -> name.equals(p.getName())).map(ContainerPort::getContainerPort)
                .findFirst().orElseThrow(() -> new AssertionError("no port " + name));
    }

    private static Volume volume(PodSpec pod, String name) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static String volumeWithSecret(PodSpec pod, String secret) {
        return pod.getVolumes().stream().filter(v -> v.getSecret() != null
                && secret.equals(v.getSecret().getSecretName())).map(Volume::getName).findFirst()
                .orElseThrow(() -> new AssertionError("no volume of secret " + secret));
    }

    private static String mountOf(Container c, String volume) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(volume)).map(VolumeMount::getMountPath)
                .findFirst().orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume));
    }

    private static String decoded(Secret secret, String key) {
        return new String(Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.UTF_8);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** The text of the one document of kind Secret in a rendered stream. */
    private static String secretDocument(String yaml) {
        for (String doc : yaml.split("\n---")) {
            if (doc.contains("\nkind: Secret\n")) {
                return doc;
            }
        }
        throw new AssertionError("no Secret document");
    }
}
