package dev.steadyrun.orchestrator.program;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.TrainerStatus;

/** The program registry over real HTTP and the real database: who may register, what runs may name, where they go. */
class ProgramsTest extends RunsApiSupport {

    private static String newProgram() {
        return "prog-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Registers a node of {@code rack} advertising {@code programs} and makes it HEALTHY. */
    private Agent node(String name, String rack, List<ProgramRef> programs) {
        Agent agent = new Agent(name, register(name, Map.of("rack", rack), programs));
        heartbeat(agent, TrainerStatus.idle());
        return agent;
    }

    private Map<String, Object> runOf(String rack, int worldSize, int spares, String program, String version) {
        Map<String, Object> spec = tinyRun(rack, worldSize, spares);
        spec.put("program", Map.of("name", program, "version", version));
        return spec;
    }

    @Test
    void adminsRegisterAndRemoveProgramsOthersOnlyRead() {
        String operator = token("OPERATOR");
        String viewer = token("VIEWER");
        String name = newProgram();
        Map<String, Object> body = Map.of("name", name, "version", "1.2.0", "description", "an MLP");

        assertThat(call("POST", "/api/v1/programs", operator, body).status()).isEqualTo(403);
        Reply created = call("POST", "/api/v1/programs", ADMIN_TOKEN, body);
        assertThat(created.status()).as(created.raw().body()).isEqualTo(201);
        assertThat(created.body().get("name").asString()).isEqualTo(name);
        assertThat(created.body().get("registeredBy").asString()).startsWith("operator:");
        assertThat(created.body().get("nodes").asLong()).isZero();

        Reply again = call("POST", "/api/v1/programs", ADMIN_TOKEN, body);
        assertThat(again.status()).isEqualTo(409);
        Reply builtIn = call("POST", "/api/v1/programs", ADMIN_TOKEN, Map.of("name", "opt", "version", "9"));
        assertThat(builtIn.status()).isEqualTo(409);
        assertThat(builtIn.body().get("detail").asString()).contains("built-in");
        Reply badName = call("POST", "/api/v1/programs", ADMIN_TOKEN, Map.of("name", "a b; rm -rf /", "version", "1"));
        assertThat(badName.status()).isEqualTo(400);
        assertThat(badName.body().get("field").asString()).isEqualTo("name");

        String rack = newRack();
        node(rack + "-a", rack, List.of(new ProgramRef(name, "1.2.0")));
        Reply listed = call("GET", "/api/v1/programs", viewer, null);
        assertThat(listed.status()).isEqualTo(200);
        List<String> names = new ArrayList<>();
        listed.body().forEach(p -> {
            names.add(p.get("name").asString());
            if (p.get("name").asString().equals(name)) {
                assertThat(p.get("nodes").asLong()).as("the node that advertised it").isEqualTo(1);
            }
        });
        assertThat(names).contains(name);

        String id = created.body().get("id").asString();
        assertThat(call("DELETE", "/api/v1/programs/" + id, operator, null).status()).isEqualTo(403);
        assertThat(call("DELETE", "/api/v1/programs/" + id, ADMIN_TOKEN, null).status()).isEqualTo(200);
        assertThat(call("DELETE", "/api/v1/programs/" + id, ADMIN_TOKEN, null).status()).isEqualTo(404);
        Reply refused = call("POST", "/api/v1/runs", operator, runOf(rack, 1, 0, name, "1.2.0"));
        assertThat(refused.status()).as("a removed program may no longer be named").isEqualTo(422);
    }

    @Test
    void anUnregisteredProgramIsRefusedNamingTheFieldAndNothingIsStored() {
        String operator = token("OPERATOR");
        String rack = newRack();
        String name = newProgram();
        // installed on the node but never registered: an agent alone cannot make a program runnable
        node(rack + "-a", rack, List.of(new ProgramRef(name, "1")));
        long runs = count("run");

        Reply reply = call("POST", "/api/v1/runs", operator, runOf(rack, 1, 0, name, "1"));
        assertThat(reply.status()).as(reply.raw().body()).isEqualTo(422);
        assertThat(reply.body().get("field").asString()).isEqualTo("program");
        assertThat(reply.body().get("detail").asString()).contains(name + "@1", "not registered");
        Reply builtInOtherVersion = call("POST", "/api/v1/runs", operator, runOf(rack, 1, 0, "opt", "0.0.1"));
        assertThat(builtInOtherVersion.status()).isEqualTo(422);
        Reply malformed = call("POST", "/api/v1/runs", operator, runOf(rack, 1, 0, "java -jar x.jar", "1"));
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.body().get("field").asString()).isEqualTo("program.name");
        assertThat(count("run")).isEqualTo(runs);
    }

    @Test
    void aRunOfAProgramIsPlacedOnlyOnNodesThatHaveItRanksAndSpares() {
        String operator = token("OPERATOR");
        String rack = newRack();
        String name = newProgram();
        ProgramRef program = new ProgramRef(name, "2.0");
        assertThat(call("POST", "/api/v1/programs", ADMIN_TOKEN, Map.of("name", name, "version", "2.0")).status())
                .isEqualTo(201);
        // two nodes without it sort first by name: placement by rack order alone would take them
        Agent plainA = node(rack + "-a", rack, List.of());
        Agent plainB = node(rack + "-b", rack, List.of(new ProgramRef(name, "1.0"))); // another version
        Agent withC = node(rack + "-c", rack, List.of(program));
        Agent withD = node(rack + "-d", rack, List.of(new ProgramRef("other", "1"), program));

        Reply tooBig = call("POST", "/api/v1/runs", operator, runOf(rack, 4, 0, name, "2.0"));
        assertThat(tooBig.status()).isEqualTo(422);
        assertThat(tooBig.body().get("field").asString()).isEqualTo("worldSize");
        assertThat(tooBig.body().get("detail").asString()).contains("has 2 schedulable", "program " + program);
        Reply noRoomForSpare = call("POST", "/api/v1/runs", operator, runOf(rack, 2, 1, name, "2.0"));
        assertThat(noRoomForSpare.status()).isEqualTo(422);
        assertThat(noRoomForSpare.body().get("field").asString()).isEqualTo("spares");

        Reply submitted = call("POST", "/api/v1/runs", operator, runOf(rack, 1, 1, name, "2.0"));
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        assertThat(submitted.body().at("/spec/program/name").asString()).isEqualTo(name);
        assertThat(submitted.body().at("/spec/program/version").asString()).isEqualTo("2.0");
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(operator, runId, RunState.STARTING);

        Set<UUID> chosen = new HashSet<>(jdbc.queryForList(
                "select node_id from placement where run_id = ? and released_at is null", UUID.class, runId));
        assertThat(chosen).containsExactlyInAnyOrder(withC.id(), withD.id());
        for (Agent plain : List.of(plainA, plainB)) {
            assertThat(heartbeat(plain, TrainerStatus.idle()).assignment()).isNull();
        }
        HeartbeatResponse c = heartbeat(withC, TrainerStatus.idle());
        HeartbeatResponse d = heartbeat(withD, TrainerStatus.idle());
        HeartbeatResponse rank0 = c.desired() == DesiredState.RUN ? c : d;
        assertThat(rank0.assignment().program()).isEqualTo(program);
    }

    @Test
    void aSpecWithoutAProgramTrainsTheBuiltInOneOnAnyNode() {
        String operator = token("OPERATOR");
        String rack = newRack();
        node(rack + "-a", rack, List.of());
        Reply submitted = call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0));
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        assertThat(submitted.body().at("/spec/program/name").asString()).isEqualTo(ProgramRef.BUILT_IN.name());
        assertThat(submitted.body().at("/spec/program/version").asString()).isEqualTo(ProgramRef.BUILT_IN.version());
        awaitState(operator, UUID.fromString(submitted.body().get("id").asString()), RunState.STARTING);
    }

    @Test
    void anAgentAdvertisingMalformedOrTooManyProgramsIsRefusedNamingTheField() {
        String name = "prog-agent-" + UUID.randomUUID().toString().substring(0, 8);
        RegisterRequest base = new RegisterRequest(name, name + ".local", List.of(), Map.of(), "test");
        Reply bad = call("POST", "/api/v1/agents/register", JOIN_TOKEN,
                base.withPrograms(List.of(new ProgramRef("ok", "1"), new ProgramRef("rm -rf /", "1"))));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.body().get("field").asString()).isEqualTo("programs[1]");
        List<ProgramRef> many = new ArrayList<>();
        for (int i = 0; i <= ProgramRef.MAX_PER_AGENT; i++) {
            many.add(new ProgramRef("p" + i, "1"));
        }
        Reply tooMany = call("POST", "/api/v1/agents/register", JOIN_TOKEN, base.withPrograms(many));
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.body().get("field").asString()).isEqualTo("programs");
        assertThat(jdbc.queryForObject("select count(*) from node where name = ?", Long.class, name)).isZero();
    }
}
