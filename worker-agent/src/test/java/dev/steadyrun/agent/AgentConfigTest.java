package dev.steadyrun.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.steadyrun.agent.trainer.WarmSettings;
import dev.steadyrun.protocol.ProgramRef;

class AgentConfigTest {

    @Test
    void commandLineBeatsEnvironmentBeatsFileBeatsDefaults(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("agent.properties");
        Files.writeString(file, "url=http://file:8080\njoin-token=from-file\nnode-name=gpu-7\nstop-grace=5s\n");
        AgentConfig c = AgentConfig.load(new String[]{"--config", file.toString(), "--url", "http://cli:9090/"},
                Map.of("STEADYRUN_JOIN_TOKEN", "from-env", "STEADYRUN_LABELS", "rack=r1,zone=z2"));

        assertThat(c.orchestratorUrls()).extracting(Object::toString).containsExactly("http://cli:9090");
        assertThat(c.joinToken()).isEqualTo("from-env");
        assertThat(c.nodeName()).isEqualTo("gpu-7");
        assertThat(c.labels()).containsExactly(Map.entry("rack", "r1"), Map.entry("zone", "z2"));
        assertThat(c.stopGrace()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.reportFlush()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.trainerCommand()).containsExactly("java", "-jar",
                "trainer-engine/target/trainer-engine-0.1.0-SNAPSHOT.jar");
        assertThat(c.faultFile()).isNull();
        assertThat(c.advertiseHost()).as("defaults to the local host name").isNotBlank();
    }

    @Test
    void severalOrchestratorUrlsNameAStandbyPair() {
        AgentConfig c = AgentConfig.load(new String[]{"--url", "http://a:8080, https://b:8443/", "--join-token", "t"},
                Map.of());
        assertThat(c.orchestratorUrls()).extracting(Object::toString)
                .containsExactly("http://a:8080", "https://b:8443");
        assertThatThrownBy(() -> AgentConfig.load(new String[]{"--url", "http://a:8080,http://a:8080/",
                "--join-token", "t"}, Map.of()))
                .hasMessageContaining("url (--url, STEADYRUN_URL): names http://a:8080 twice");
        assertThatThrownBy(() -> AgentConfig.load(new String[]{"--url", "http://a:8080,", "--join-token", "t"},
                Map.of()))
                .hasMessageContaining("url (--url, STEADYRUN_URL): must be an http:// or https:// URL");
    }

    @Test
    void advertisedHostIsConfigurableAndChecked() {
        AgentConfig c = AgentConfig.load(new String[]{"--url", "http://o:8080", "--join-token", "t"},
                Map.of("STEADYRUN_ADVERTISE_HOST", "127.0.0.1"));
        assertThat(c.advertiseHost()).isEqualTo("127.0.0.1");
        assertThatThrownBy(() -> AgentConfig.load(new String[]{"--url", "http://o:8080", "--join-token", "t",
                "--advertise-host", "two words"}, Map.of()))
                .hasMessageContaining("advertise-host (--advertise-host, STEADYRUN_ADVERTISE_HOST): must be a host "
                        + "name or IP address, got 'two words'");
    }

    @Test
    void programsAreNamedVersionedCommandsNeverTheBuiltInOne() {
        AgentConfig c = AgentConfig.load(new String[]{"--url", "http://o:8080", "--join-token", "t"},
                Map.of("STEADYRUN_PROGRAMS", "mlp@1.0=java -jar /opt/mlp.jar; lstm@2.1-rc1=/opt/lstm/run --fast"));
        assertThat(c.programs()).containsExactly(
                Map.entry(new ProgramRef("mlp", "1.0"), List.of("java", "-jar", "/opt/mlp.jar")),
                Map.entry(new ProgramRef("lstm", "2.1-rc1"), List.of("/opt/lstm/run", "--fast")));
        assertThat(AgentConfig.load(new String[]{"--url", "http://o:8080", "--join-token", "t"}, Map.of()).programs())
                .isEmpty();
        for (String bad : List.of("mlp=java -jar x.jar", "mlp@1.0=", "Bad Name@1=x", "opt@0.1.0=java -jar t.jar",
                "mlp@1=a;mlp@1=b")) {
            assertThatThrownBy(() -> AgentConfig.load(new String[]{"--url", "http://o:8080", "--join-token", "t",
                    "--programs", bad}, Map.of()))
                    .as(bad).hasMessageContaining("programs (--programs, STEADYRUN_PROGRAMS): ");
        }
    }

    @Test
    void everyProblemIsReportedNamingItsSetting() {
        assertThatThrownBy(() -> AgentConfig.load(new String[]{"--url", "ftp://x", "--stop-grace", "soon",
                "--report-batch", "0", "--labels", "rack", "--node-name", "bad name!", "--colour", "red"}, Map.of()))
                .isInstanceOf(AgentConfig.InvalidConfigException.class)
                .hasMessageContaining("url (--url, STEADYRUN_URL): must be an http:// or https:// URL")
                .hasMessageContaining("join-token (--join-token, STEADYRUN_JOIN_TOKEN): is required")
                .hasMessageContaining("stop-grace (--stop-grace, STEADYRUN_STOP_GRACE): must be a duration")
                .hasMessageContaining("report-batch (--report-batch, STEADYRUN_REPORT_BATCH): must be at least 1")
                .hasMessageContaining("labels (--labels, STEADYRUN_LABELS): must be key=value pairs")
                .hasMessageContaining("node-name (--node-name, STEADYRUN_NODE_NAME): must be 1-63 letters")
                .hasMessageContaining("colour (--colour, STEADYRUN_COLOUR): unknown setting");
    }

    @Test
    void missingFlagValueAndUnreadableFileAreNamed() {
        assertThatThrownBy(() -> AgentConfig.load(new String[]{"--config", "/nonexistent/agent.properties",
                "--url"}, Map.of()))
                .hasMessageContaining("--url: missing value")
                .hasMessageContaining("config (--config): cannot read /nonexistent/agent.properties");
    }

    @Test
    void durationsAcceptShortAndIsoForms() {
        assertThat(AgentConfig.positiveDuration("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(AgentConfig.positiveDuration("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(AgentConfig.positiveDuration("PT1.5S")).isEqualTo(Duration.ofMillis(1500));
        assertThatThrownBy(() -> AgentConfig.positiveDuration("0s")).hasMessageContaining("must be positive");
    }

    @Test
    void trainerCommandAndTestToolsParse() {
        AgentConfig c = AgentConfig.fromMap(Map.of("url", "https://o.example", "join-token", "t",
                "trainer-command", "  java  -Xmx2g -jar t.jar ", "fault-file", "/tmp/faults", "fake-gpus", "8"));
        assertThat(c.trainerCommand()).isEqualTo(List.of("java", "-Xmx2g", "-jar", "t.jar"));
        assertThat(c.faultFile()).isEqualTo(Path.of("/tmp/faults"));
        assertThat(c.fakeGpus()).isEqualTo(8);
    }

    @Test
    void warmRestartSettingsHaveDefaultsAndAreChecked() {
        AgentConfig defaults = AgentConfig.fromMap(Map.of("url", "https://o.example", "join-token", "t"));
        assertThat(defaults.warm()).isEqualTo(new WarmSettings(true, true, Duration.ofSeconds(30),
                Duration.ofMinutes(5)));
        AgentConfig set = AgentConfig.fromMap(Map.of("url", "https://o.example", "join-token", "t",
                "warm-restart", "false", "hot-spare", "false", "warm-ack-timeout", "5s", "warm-keep", "1m"));
        assertThat(set.warm()).isEqualTo(new WarmSettings(false, false, Duration.ofSeconds(5), Duration.ofMinutes(1)));
        assertThatThrownBy(() -> AgentConfig.fromMap(Map.of("url", "https://o.example", "join-token", "t",
                "hot-spare", "yes", "warm-keep", "0s")))
                .hasMessageContaining("hot-spare (--hot-spare, STEADYRUN_HOT_SPARE): must be true or false")
                .hasMessageContaining("warm-keep (--warm-keep, STEADYRUN_WARM_KEEP): must be positive");
    }
}
