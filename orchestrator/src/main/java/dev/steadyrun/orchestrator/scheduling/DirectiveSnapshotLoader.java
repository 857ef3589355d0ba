package dev.steadyrun.orchestrator.scheduling;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

import dev.steadyrun.orchestrator.run.RunSpec;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.TrainerConfig;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.LocalRank;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;
import dev.steadyrun.orchestrator.run.RecoveryPolicy;

/**
 * Builds the heartbeat path's view of the active placements in one query: for every node holding a seat of its
 * run's current generation, the run's state and the assignment to hand out, with the checkpoint (and its manifest's
 * SHA-256), restart knobs and ring secret of that generation's record ({@link Generations}), the run policy's hang
 * floor for the agent's watchdog, and the restore point of a pending restart, which the stopping generation must not
 * delete.
 */
@Component
class DirectiveSnapshotLoader {

    private final JdbcTemplate jdbc;
    private final ObjectMapper json;
    private final SchedulingProperties props;

    DirectiveSnapshotLoader(JdbcTemplate jdbc, ObjectMapper json, SchedulingProperties props) {
        this.jdbc = jdbc;
        this.json = json;
        this.props = props;
    }

    Map<UUID, NodeWork> load() {
        Map<UUID, RunSpec> specs = new HashMap<>();
        Map<UUID, Long> hangSeconds = new HashMap<>();
        Map<String, RestartKnobs> knobs = new HashMap<>();
        Map<UUID, NodeWork> work = new HashMap<>();
        jdbc.query("""
                select p.node_id, p.run_id, p.generation, p.rank, p.ranks, r.state, r.spec, r.world_size,
                       (select n.gpus from node n where n.id = p.node_id) as node_gpus,
                       (select n.hostname from placement p0 join node n on n.id = p0.node_id
                        where p0.run_id = p.run_id and p0.generation = p.generation and p0.rank = 0) as rank0_host,
                       g.restore_path, g.restore_sha256, g.knobs, g.ring_secret,
                       (select q.restore_step from restart_request q
                        where q.run_id = p.run_id and q.from_generation = p.generation and q.placed_generation is null
                        order by q.id desc limit 1) as keep_step
                from placement p join run r on r.id = p.run_id and r.generation = p.generation
                left join run_generation g on g.run_id = p.run_id and g.generation = p.generation
                where p.released_at is null""", rs -> {
            UUID runId = rs.getObject("run_id", UUID.class);
            RunState state = RunState.valueOf(rs.getString("state"));
            long generation = rs.getLong("generation");
            Integer rank = (Integer) rs.getObject("rank");
            Assignment assignment = null;
            if (rank != null) {
                String specJson = rs.getString("spec");
                RunSpec spec = specs.computeIfAbsent(runId, id -> json.readValue(specJson, RunSpec.class));
                int worldSize = rs.getInt("world_size");
                String rank0 = rs.getString("rank0_host");
                String knobsJson = rs.getString("knobs");
                byte[] secret = rs.getBytes("ring_secret");
                RestartKnobs restartKnobs = knobsJson == null ? RestartKnobs.NONE
                        : knobs.computeIfAbsent(knobsJson, k -> json.readValue(k, RestartKnobs.class));
                long hang = hangSeconds.computeIfAbsent(runId, id ->
                        Math.max(1, RecoveryPolicy.parse(spec.recoveryPolicy()).hangFloor().toSeconds()));
                int ranks = rs.getInt("ranks");
                // one rank per node on any node, as before several: no local ranks, the agent's own devices
                List<LocalRank> local = ranks == 1 && spec.gpusPerNode() == 0 ? null
                        : LocalRank.of(rank, ranks, spec.gpusPerNode() == 0 ? null : gpuIndices(rs.getString("node_gpus")));
                assignment = new Assignment(runId, rank, worldSize, generation, TrainerConfig.of(spec),
                        rs.getString("restore_path"), rs.getString("restore_sha256"), spec.checkpointDir(runId),
                        restartKnobs, worldSize == 1 || rank0 == null ? null : rank0 + ":" + props.rendezvousPort(),
                        hang, secret == null ? null : RingSecret.of(secret), spec.program(), local);
            }
            work.put(rs.getObject("node_id", UUID.class), new NodeWork(runId, state, generation, assignment,
                    (Long) rs.getObject("keep_step")));
        });
        return work;
    }

    /** The node's GPU indices in order, from its registration; each local rank sees one of them alone. */
    private List<Integer> gpuIndices(String gpusJson) {
        if (gpusJson == null || gpusJson.isBlank()) {
            return List.of();
        }
        return json.readValue(gpusJson, new TypeReference<List<GpuInfo>>() { }).stream()
                .map(GpuInfo::index).sorted().toList();
    }
}
