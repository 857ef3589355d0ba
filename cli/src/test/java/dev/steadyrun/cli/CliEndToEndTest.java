package dev.steadyrun.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

import dev.steadyrun.protocol.Assignment;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The CLI against the real orchestrator (its Boot jar, a child process) on a fresh PostgreSQL database, driven
 * in-process as a user would from a shell. Nodes are {@link FakeAgent}s speaking the agent protocol; each test
 * keeps its runs on nodes of its own rack (the spec's nodeSelector) so the tests cannot take each other's nodes.
 */
class CliEndToEndTest {

    private static final String ADMIN = OrchestratorProcess.ADMIN_TOKEN;
    private static final YAMLMapper YAML = YAMLMapper.builder().build();

    @TempDir
    static Path dir;
    private static OrchestratorProcess orchestrator;
    private static String url;
    private static HttpServer receiver;
    private static final AtomicInteger hooksReceived = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", exchange -> {
            exchange.getRequestBody().readAllBytes();
            hooksReceived.incrementAndGet();
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        orchestrator = new OrchestratorProcess("steadyrun_cli_test", dir.resolve("orchestrator.log"), List.of(
                "--steadyrun.scheduling.pass-interval=500ms",
                "--steadyrun.logs.keepalive=1s", // a log follower learns within a second that its run ended
                "--steadyrun.alerts.allowed-private-cidrs=127.0.0.0/8",
                "--steadyrun.alerts.secret-key=MDEyMzQ1Njc4OWFiY2RlZg=="), Duration.ofSeconds(180));
        url = orchestrator.url().toString();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (orchestrator != null) {
            orchestrator.close();
        }
        if (receiver != null) {
            receiver.stop(0);
        }
    }

    /** A user with a home of their own and the given environment variables, who answers no prompt. */
    private static Cli user(String name, Map<String, String> env) {
        return new Cli(new Env(env, dir.resolve("home-" + name), InputStream.nullInputStream()));
    }

    /** The admin, typing {@code stdin} at any prompt. */
    private static Cli admin(String stdin) {
        return new Cli(new Env(Map.of(Env.URL, url, Env.TOKEN, ADMIN), dir.resolve("home-admin"),
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
    }

    /** The admin, with server and token from the environment. */
    private static Cli admin() {
        return user("admin", Map.of(Env.URL, url, Env.TOKEN, ADMIN));
    }

    private static Cli.Result ok(Cli cli, String... args) {
        Cli.Result r = cli.run(args);
        assertThat(r.exit()).as(r.toString()).isEqualTo(Steadyrun.OK);
        return r;
    }

    private static JsonNode json(Cli cli, String... args) {
        return Api.JSON.readTree(ok(cli, args).out());
    }

    private static Path spec(String name, String rack, String extra) throws IOException {
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, """
                name: %s
                model:
                  size: tiny
                data:
                  sample: europarl
                worldSize: 1
                nodeSelector:
                  rack: %s
                """.formatted(name, rack) + extra);
        return file;
    }

    @Test
    void chaosIsRefusedWithTheProblemDetailWhenTheOrchestratorHasItOffAndForANonAdmin() {
        Cli cli = admin();
        String run = UUID.randomUUID().toString();
        // this orchestrator runs with the default settings: chaos off
        Cli.Result off = cli.run("chaos", "diverge", run);
        assertThat(off.exit()).as(off.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(off.err()).startsWith("steadyrun: 404").contains("steadyrun.chaos.enabled=true");
        assertThat(cli.run("chaos", "kill-node", run, "--rank", "1").err()).startsWith("steadyrun: 404");

        String operator = json(cli, "token", "create", "--name", "chaos-operator", "--role", "OPERATOR", "-o",
                "json").get("secret").asString();
        Cli.Result forbidden = user("chaos-operator", Map.of(Env.URL, url, Env.TOKEN, operator))
                .run("chaos", "corrupt-checkpoint", run);
        assertThat(forbidden.exit()).as(forbidden.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(forbidden.err()).startsWith("steadyrun: 403");

        Cli.Result unknown = cli.run("chaos", "meteor", run);
        assertThat(unknown.exit()).as(unknown.toString()).isEqualTo(Steadyrun.USAGE);
    }

    @Test
    void loginKeepsTheServerAndTokenInAFileOnlyItsOwnerCanRead() throws IOException {
        Cli alice = user("alice", Map.of());
        Path config = dir.resolve("home-alice/.config/steadyrun/config.yaml");
        Files.createDirectories(config.getParent());
        Files.writeString(config, "url: http://old.example\n");
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));

        Cli.Result login = ok(alice, "login", "--server", url + "/", "--token", ADMIN);
        assertThat(login.out()).contains("bootstrap-admin").contains("ADMIN").contains(config.toString());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config))).isEqualTo("rw-------");
        JsonNode saved = YAML.readTree(Files.readString(config));
        assertThat(saved.get("url").asString()).isEqualTo(url);
        assertThat(saved.get("token").asString()).isEqualTo(ADMIN);
        ok(alice, "token", "list"); // server and token from the file

        Cli.Result refused = alice.run("login", "--server", url, "--token", "not-a-token-0123456789");
        assertThat(refused.exit()).as(refused.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(refused.err()).contains("401");
        assertThat(YAML.readTree(Files.readString(config)).get("token").asString()).isEqualTo(ADMIN);

        // the environment wins over the file
        Cli.Result badToken = new Cli(new Env(Map.of(Env.TOKEN, "not-a-token-0123456789"), dir.resolve("home-alice"),
                InputStream.nullInputStream()))
                .run("token", "list");
        assertThat(badToken.exit()).as(badToken.toString()).isEqualTo(Steadyrun.API_ERROR);

        Path bob = dir.resolve("home-bob");
        Cli.Result fresh = new Cli(new Env(Map.of(), bob, InputStream.nullInputStream())).run("login", "--server", url, "--token", ADMIN);
        assertThat(fresh.exit()).as(fresh.toString()).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(bob.resolve(".config/steadyrun"))))
                .isEqualTo("rwx------");
    }

    @Test
    void aYamlSpecIsSubmittedAndReadBackAsATableJsonAndYaml() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "submit-0", Map.of("rack", "rack-submit"))) {
            Cli cli = admin();
            JsonNode created = json(cli, "run", "submit", "-f", spec("cli-yaml", "rack-submit",
                    "hyper:\n  clipNorm: 0.3\n").toString(), "-o", "json");
            String id = created.get("id").asString();
            assertThat(created.at("/spec/hyper/clipNorm").asDouble()).isEqualTo(0.3);

            String table = ok(cli, "run", "list").out();
            assertThat(table.lines().findFirst().orElseThrow()).startsWith("ID").contains("NAME", "STATE", "LOSS");
            assertThat(table.lines().filter(l -> l.startsWith(id))).singleElement().asString().contains("cli-yaml");
            assertThat(json(cli, "run", "list", "-o", "json").get("items").findValuesAsString("id")).contains(id);
            JsonNode listed = YAML.readTree(ok(cli, "run", "list", "-o", "yaml").out());
            assertThat(listed.get("items").findValuesAsString("id")).contains(id);

            String shown = ok(cli, "run", "show", id).out();
            assertThat(shown).containsPattern("(?m)^id +" + id + "$").containsPattern("(?m)^model +tiny$")
                    .containsPattern("(?m)^program +opt@0\\.1\\.0$")
                    .containsPattern("(?m)^data +europarl$");
            assertThat(json(cli, "run", "show", id, "-o", "json").at("/spec/model/size").asString()).isEqualTo("tiny");
            assertThat(YAML.readTree(ok(cli, "run", "show", id, "-o", "yaml").out()).get("id").asString())
                    .isEqualTo(id);

            Path jsonSpec = dir.resolve("cli-json.json");
            Files.writeString(jsonSpec, """
                    {"name": "cli-json", "model": {"size": "tiny"}, "data": {"sample": "europarl"}, "worldSize": 1,
                     "nodeSelector": {"rack": "rack-submit"}}""");
            String second = json(cli, "run", "submit", "-f", jsonSpec.toString(), "-o", "json").get("id").asString();
            for (String run : List.of(id, second)) {
                assertThat(json(cli, "run", "cancel", run, "-o", "json").get("state").asString()).startsWith("CANCEL");
            }
        }
    }

    @Test
    void aBadSpecPrintsEachFieldWithItsLineAndExits1() throws IOException {
        Cli cli = admin();
        long before = json(cli, "run", "list", "-o", "json").get("total").asLong();

        Path wrongType = spec("cli-bad", "rack-bad", "");
        Files.writeString(wrongType, Files.readString(wrongType).replace("worldSize: 1", "worldSize: two"));
        Cli.Result typed = cli.run("run", "submit", "-f", wrongType.toString());
        assertThat(typed.exit()).as(typed.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(typed.err()).contains("400").containsPattern("(?m)^worldSize: .+ \\(line 6, column \\d+\\)$");

        Cli.Result checked = cli.run("run", "submit", "-f",
                spec("cli-bad2", "rack-bad", "spares: -1\nhyper:\n  dropout: 1.5\n  layerz: 2\n").toString());
        assertThat(checked.exit()).as(checked.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(checked.err()).containsPattern("(?m)^hyper.layerz: unknown field \\(line 12, column 3\\)$");

        Cli.Result resolved = cli.run("run", "submit", "-f",
                spec("cli-bad3", "rack-bad", "spares: -1\nhyper:\n  dropout: 1.5\n").toString());
        assertThat(resolved.exit()).as(resolved.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(resolved.err())
                .containsPattern("(?m)^spares: must be 0 to 100000, was -1 \\(line 9, column 1\\)$")
                .containsPattern("(?m)^hyper.dropout: .+ \\(line 11, column 3\\)$");

        assertThat(json(cli, "run", "list", "-o", "json").get("total").asLong()).isEqualTo(before);
        Cli.Result missing = cli.run("run", "submit", "-f", dir.resolve("nope.yaml").toString());
        assertThat(missing.exit()).as(missing.toString()).isEqualTo(Steadyrun.USAGE);
        assertThat(missing.err()).contains("no such file");
    }

    @Test
    void aNodeIsCordonedAndUncordonedByName() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "cordon-0", Map.of("rack", "rack-cordon"))) {
            Cli cli = admin();
            Cli.Result cordoned = ok(cli, "node", "cordon", "cordon-0", "--reason", "new cables");
            assertThat(cordoned.out()).containsPattern("(?m)^state +CORDONED$");
            JsonNode listed = json(cli, "node", "list", "--label", "rack=rack-cordon", "-o", "json");
            assertThat(listed.at("/items/0/state").asString()).isEqualTo("CORDONED");
            assertThat(listed.at("/items/0/stateReason").asString()).contains("new cables");

            // uncordoned nodes start over as REGISTERED; their next heartbeat makes them HEALTHY
            assertThat(json(cli, "node", "uncordon", agent.id().toString(), "-o", "json").get("state").asString())
                    .isIn("REGISTERED", "HEALTHY");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!ok(cli, "node", "list", "--state", "HEALTHY").out().contains("cordon-0")) {
                assertThat(System.nanoTime()).as("cordon-0 HEALTHY again").isLessThan(deadline);
                Thread.sleep(100);
            }
            assertThat(ok(cli, "node", "show", "cordon-0").out()).containsPattern("(?m)^gpu health +gpu0 55°C");

            Cli.Result unknown = cli.run("node", "cordon", "no-such-node");
            assertThat(unknown.exit()).as(unknown.toString()).isEqualTo(Steadyrun.USAGE);
            Cli.Result missing = cli.run("node", "cordon", UUID.randomUUID().toString());
            assertThat(missing.exit()).as(missing.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(missing.err()).contains("404");
        }
    }

    @Test
    void aReKeyedNodeAnswersToItsNewCredentialOnly() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "rekey-0", Map.of("rack", "rack-rekey"))) {
            Cli cli = admin();
            String old = agent.credential();
            assertThat(agent.heartbeat(old)).isEqualTo(200);

            Cli.Result table = ok(cli, "node", "rekey", "rekey-0");
            assertThat(table.out()).containsPattern("(?m)^node +" + agent.id() + "$")
                    .containsPattern("(?m)^write it to +<state-dir>/rekey-0.credential on the node \\(mode 0600\\)$");
            String shown = table.out().lines().filter(l -> l.startsWith("credential")).findFirst().orElseThrow()
                    .replaceFirst("^credential +", "");
            assertThat(shown).startsWith("srn_").isNotEqualTo(old);
            assertThat(agent.heartbeat(old)).isEqualTo(401);
            assertThat(agent.heartbeat(shown)).isEqualTo(200);

            JsonNode raw = json(cli, "node", "rekey", agent.id().toString(), "-o", "json");
            assertThat(raw.propertyNames()).containsExactlyInAnyOrder("nodeId", "nodeCredential");
            assertThat(raw.get("nodeId").asString()).isEqualTo(agent.id().toString());
            assertThat(agent.heartbeat(shown)).isEqualTo(401);
            assertThat(agent.heartbeat(raw.get("nodeCredential").asString())).isEqualTo(200);

            String operator = json(cli, "token", "create", "--name", "cli-operator", "--role", "OPERATOR", "-o",
                    "json").get("secret").asString();
            Cli.Result forbidden = user("operator", Map.of(Env.URL, url, Env.TOKEN, operator))
                    .run("node", "rekey", "rekey-0");
            assertThat(forbidden.exit()).as(forbidden.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(forbidden.err()).startsWith("steadyrun: 403");
            assertThat(agent.heartbeat(raw.get("nodeCredential").asString())).isEqualTo(200);
            assertThat(cli.run("node", "rekey", "no-such-node").exit()).isEqualTo(Steadyrun.USAGE);
        }
    }

    @Test
    void aNodeIsDeletedOnlyWhenConfirmedAndNotWhileItHoldsASeat() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "delete-0", Map.of("rack", "rack-delete"))) {
            Cli cli = admin();
            String run = json(cli, "run", "submit", "-f", spec("cli-delete", "rack-delete", "").toString(),
                    "-o", "json").get("id").asString();
            agent.awaitAssignment(UUID.fromString(run), 1, Duration.ofSeconds(30));
            Cli.Result seated = cli.run("node", "delete", "delete-0", "--yes");
            assertThat(seated.exit()).as(seated.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(seated.err()).startsWith("steadyrun: 409").contains("holds a seat in run " + run);

            ok(cli, "run", "cancel", run);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!json(cli, "run", "show", run, "-o", "json").get("state").asString().equals("CANCELLED")) {
                assertThat(System.nanoTime()).as("run cancelled").isLessThan(deadline);
                Thread.sleep(100);
            }

            Cli.Result unanswered = cli.run("node", "delete", "delete-0");
            assertThat(unanswered.exit()).as(unanswered.toString()).isEqualTo(Steadyrun.USAGE);
            assertThat(unanswered.err()).startsWith("Delete node delete-0 (" + agent.id() + ")? ")
                    .contains("--yes");
            Cli.Result declined = admin("n\n").run("node", "delete", "delete-0");
            assertThat(declined.exit()).as(declined.toString()).isEqualTo(Steadyrun.USAGE);
            assertThat(declined.err()).endsWith("steadyrun: not deleted\n");
            assertThat(agent.heartbeat(agent.credential())).isEqualTo(200);

            Cli.Result deleted = admin("y\n").run("node", "delete", "delete-0");
            assertThat(deleted.exit()).as(deleted.toString()).isZero();
            assertThat(deleted.out()).isEqualTo("deleted node delete-0 (" + agent.id() + ")\n");
            assertThat(agent.heartbeat(agent.credential())).isEqualTo(401);
            assertThat(ok(cli, "node", "list", "--label", "rack=rack-delete").out()).doesNotContain("delete-0");
            Cli.Result gone = cli.run("node", "delete", agent.id().toString(), "--yes");
            assertThat(gone.exit()).as(gone.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(gone.err()).startsWith("steadyrun: 404");
        }
    }

    @Test
    void aRunIsRestartedWithKnobsThatReachTheNextGeneration() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "restart-0", Map.of("rack", "rack-restart"))) {
            Cli cli = admin();
            UUID run = UUID.fromString(json(cli, "run", "submit", "-f",
                    spec("cli-restart", "rack-restart", "").toString(), "-o", "json").get("id").asString());
            agent.awaitAssignment(run, 1, Duration.ofSeconds(30));

            Cli.Result badKnob = cli.run("run", "restart", run.toString(), "--knob", "clipping=0.3");
            assertThat(badKnob.exit()).as(badKnob.toString()).isEqualTo(Steadyrun.USAGE);
            assertThat(badKnob.err()).contains("clipNorm", "lrMultiplier");
            assertThat(cli.run("run", "restart", run.toString(), "--knob", "clipNorm=low").exit())
                    .isEqualTo(Steadyrun.USAGE);
            Cli.Result outOfBounds = cli.run("run", "restart", run.toString(), "--knob", "lrMultiplier=20");
            assertThat(outOfBounds.exit()).as(outOfBounds.toString()).isEqualTo(Steadyrun.USAGE);
            assertThat(outOfBounds.err()).contains("--knob lrMultiplier: must be above 0 and at most 10");

            Cli.Result restarted = ok(cli, "run", "restart", run.toString(), "--knob", "clipNorm=0.3",
                    "--knob", "resetLossScaler=true", "--reason", "from the cli");
            assertThat(restarted.out()).containsPattern("(?m)^kind +MANUAL_RESTART$")
                    .containsPattern("(?m)^knobs +clipNorm=0.3 resetLossScaler=true$");
            Assignment next = agent.awaitAssignment(run, 2, Duration.ofSeconds(30));
            assertThat(next.knobs().clipNorm()).isEqualTo(0.3);
            assertThat(next.knobs().resetLossScaler()).isTrue();

            JsonNode incidents = json(cli, "run", "incidents", run.toString(), "-o", "json");
            assertThat(incidents.at("/0/kind").asString()).isEqualTo("MANUAL_RESTART");
            assertThat(incidents.at("/0/decision/knobs/clipNorm").asDouble()).isEqualTo(0.3);
            assertThat(ok(cli, "run", "incidents", run.toString()).out()).contains("MANUAL_RESTART", "from the cli");

            ok(cli, "run", "cancel", run.toString());
            Cli.Result tooLate = cli.run("run", "restart", run.toString());
            assertThat(tooLate.exit()).as(tooLate.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(tooLate.err()).contains("409");
        }
    }

    @Test
    void watchPrintsEachNewStepAndIncidentUntilTheRunEnds() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "watch-0", Map.of("rack", "rack-watch"))) {
            Cli cli = admin();
            String run = json(cli, "run", "submit", "-f", spec("cli-watch", "rack-watch", "").toString(), "-o", "json")
                    .get("id").asString();
            Assignment first = agent.awaitAssignment(UUID.fromString(run), 1, Duration.ofSeconds(30));

            Cli.Running watch = cli.start("run", "watch", run, "--interval", "0.2");
            await(watch, out -> out.startsWith("run " + run));
            agent.report(first, 0, 3);
            await(watch, out -> out.contains("state STARTING -> RUNNING") && out.contains("step      2"));
            agent.report(first, 3, 2);
            await(watch, out -> out.contains("step      4"));
            ok(cli, "run", "restart", run, "--reason", "watched");
            await(watch, out -> out.contains("MANUAL_RESTART"));
            ok(cli, "run", "cancel", run);

            Cli.Result watched = watch.result().get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(watched.exit()).as(watched.toString()).isZero();
            System.out.println("run watch printed:\n" + watched.out()); // kept in the surefire report
            List<String> steps = watched.out().lines().filter(l -> l.startsWith("step")).toList();
            assertThat(steps).hasSize(5);
            assertThat(steps.get(0)).matches("step +0 +loss 10.0000 +scale 4.000 .*");
            assertThat(watched.out()).containsPattern("(?m)^incident #\\d+ MANUAL_RESTART \\(OPERATOR\\) .*watched")
                    .endsWith("run ended: CANCELLED\n");
        }
    }

    @Test
    void logsPrintsARanksLinesAndFollowsNewOnesUntilTheRunEnds() throws Exception {
        try (FakeAgent agent = new FakeAgent(orchestrator.url(), "logs-0", Map.of("rack", "rack-logs"))) {
            Cli cli = admin();
            String run = json(cli, "run", "submit", "-f", spec("cli-logs", "rack-logs", "").toString(), "-o", "json")
                    .get("id").asString();
            Assignment a = agent.awaitAssignment(UUID.fromString(run), 1, Duration.ofSeconds(30));
            agent.log(a, 0, "loading data", "a line that tries \u001b[2Jto clear the screen");

            Cli.Result printed = ok(cli, "run", "logs", run);
            assertThat(printed.out()).as("the escape is shown, never sent to the terminal")
                    .isEqualTo("loading data\na line that tries \uFFFD[2Jto clear the screen\n");

            Cli.Running follow = cli.start("run", "logs", run, "-f", "--rank", "0");
            await(follow, out -> out.contains("loading data"));
            agent.log(a, 2, "a live line");
            await(follow, out -> out.endsWith("a live line\n"));
            ok(cli, "run", "cancel", run);
            Cli.Result followed = follow.result().get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(followed.exit()).as(followed.toString()).isZero();
            assertThat(followed.out().lines()).containsExactly("loading data",
                    "a line that tries \uFFFD[2Jto clear the screen", "a live line");
            assertThat(followed.err()).contains("the run is CANCELLED");

            Cli.Result badRank = cli.run("run", "logs", run, "--rank", "1");
            assertThat(badRank.exit()).as(badRank.toString()).isEqualTo(Steadyrun.API_ERROR);
            assertThat(badRank.err()).contains("rank").contains("must be from 0 to 0");
        }
    }

    private static void await(Cli.Running running, Predicate<String> seen) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!seen.test(running.output().toString())) {
            if (running.result().isDone() || System.nanoTime() > deadline) {
                throw new AssertionError("not seen; the command printed:\n" + running.output()
                        + (running.result().isDone() ? running.result().join() : ""));
            }
            Thread.sleep(50);
        }
    }

    @Test
    void tokensAreCreatedListedAndRevoked() {
        Cli cli = admin();
        JsonNode created = json(cli, "token", "create", "--name", "cli-viewer", "--role", "VIEWER", "-o", "json");
        String secret = created.get("secret").asString();
        String id = created.at("/token/id").asString();
        assertThat(ok(cli, "token", "list").out()).containsPattern("(?m)^" + id + " +cli-viewer +VIEWER ");

        Cli viewer = user("viewer", Map.of(Env.URL, url, Env.TOKEN, secret));
        ok(viewer, "run", "list");
        Cli.Result forbidden = viewer.run("token", "list");
        assertThat(forbidden.exit()).as(forbidden.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(forbidden.err()).contains("403");

        assertThat(json(cli, "token", "revoke", id, "-o", "json").get("revokedAt").isNull()).isFalse();
        assertThat(viewer.run("run", "list").exit()).isEqualTo(Steadyrun.API_ERROR);
        Cli.Result badRole = cli.run("token", "create", "--name", "x", "--role", "KING");
        assertThat(badRole.exit()).as(badRole.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(badRole.err()).containsPattern("(?m)^role: ");
    }

    @Test
    void aWebhookIsCreatedTestedAndRedelivered() throws Exception {
        Cli cli = admin();
        String hook = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
        JsonNode created = json(cli, "webhook", "create", "--url", hook, "--event", "node.failed",
                "--event", "incident.opened", "--name", "cli-hook", "-o", "json");
        String id = created.get("id").asString();
        assertThat(created.get("secret").asString()).isNotBlank();
        assertThat(ok(cli, "webhook", "list").out()).containsPattern("(?m)^" + id + " +cli-hook +" + hook);
        assertThat(ok(cli, "webhook", "show", id).out()).containsPattern("(?m)^EVENTS +node.failed,incident.opened$");

        int before = hooksReceived.get();
        long delivery = json(cli, "webhook", "test", id, "-o", "json").get("id").asLong();
        JsonNode delivered = awaitDelivery(cli, id, delivery);
        assertThat(hooksReceived.get()).isGreaterThan(before);
        assertThat(delivered.get("eventType").asString()).isEqualTo("webhook.test");

        assertThat(json(cli, "webhook", "redeliver", String.valueOf(delivery), "-o", "json").get("state").asString())
                .isEqualTo("PENDING");
        assertThat(ok(cli, "webhook", "deliveries", id).out()).contains("webhook.test");

        Cli.Result badEvent = cli.run("webhook", "create", "--url", hook, "--event", "node.exploded");
        assertThat(badEvent.exit()).as(badEvent.toString()).isEqualTo(Steadyrun.API_ERROR);
        assertThat(badEvent.err()).contains("eventTypes").contains("node.exploded");

        ok(cli, "webhook", "delete", id);
        assertThat(ok(cli, "webhook", "list").out()).doesNotContain(id);
    }

    private static JsonNode awaitDelivery(Cli cli, String webhook, long delivery) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            for (JsonNode d : json(cli, "webhook", "deliveries", webhook, "-o", "json")) {
                if (d.get("id").asLong() == delivery && d.get("state").asString().equals("DELIVERED")) {
                    return d;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("delivery " + delivery + " not delivered");
            }
            Thread.sleep(200);
        }
    }

    @Test
    void anUnreachableServerExits3AndBadUsageExits2() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Cli.Result unreachable = admin().run("--server", "http://127.0.0.1:" + closed, "run", "list");
        assertThat(unreachable.exit()).as(unreachable.toString()).isEqualTo(Steadyrun.UNREACHABLE);
        assertThat(unreachable.err()).contains("cannot reach http://127.0.0.1:" + closed);
        Cli.Result inherited = admin().run("run", "list", "--server", "http://127.0.0.1:" + closed);
        assertThat(inherited.exit()).as(inherited.toString()).isEqualTo(Steadyrun.UNREACHABLE);

        assertThat(admin().run("runs", "list").exit()).isEqualTo(Steadyrun.USAGE);
        assertThat(admin().run("run", "show", "not-a-uuid").exit()).isEqualTo(Steadyrun.USAGE);
        assertThat(admin().run("run", "list", "-o", "xml").exit()).isEqualTo(Steadyrun.USAGE);
        Cli.Result nowhere = user("nobody", Map.of()).run("run", "list");
        assertThat(nowhere.exit()).as(nowhere.toString()).isEqualTo(Steadyrun.USAGE);
        assertThat(nowhere.err()).contains("steadyrun login");
    }

    @Test
    void bashCompletionCoversTheCommandTree() {
        String script = ok(admin(), "completion", "bash").out();
        assertThat(script).contains("steadyrun").contains("restart").contains("--knob").contains("cordon")
                .contains("rekey").contains("--yes");
    }
}
