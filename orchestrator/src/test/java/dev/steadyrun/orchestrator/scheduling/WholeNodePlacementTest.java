package dev.steadyrun.orchestrator.scheduling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.InvalidRunSpecException;
import dev.steadyrun.orchestrator.run.RunSpec;
import dev.steadyrun.orchestrator.run.RunSpecRequest;
import dev.steadyrun.orchestrator.run.RunSpecResolver;
import dev.steadyrun.orchestrator.scheduling.GangPlacer.Candidate;

/** OPT-175B's shape: 992 ranks on 124 nodes of 8 GPUs, spares as whole nodes. Pure: spec and placer. */
class WholeNodePlacementTest {

    private final RunSpecResolver resolver = new RunSpecResolver("/ckpt");

    private RunSpec resolve(int worldSize, Integer ranksPerNode, Integer gpusPerNode) {
        return resolve(new RunSpecRequest.Model("175B", null, null, null, null, null), worldSize, ranksPerNode,
                gpusPerNode, null);
    }

    private RunSpec resolve(RunSpecRequest.Model model, int worldSize, Integer ranksPerNode, Integer gpusPerNode,
                            Integer tensorParallel) {
        return resolver.resolve(new RunSpecRequest(null, model,
                new RunSpecRequest.Data(null, "europarl"), new RunSpecRequest.Hyper(null, (long) worldSize * 2048, 1,
                null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null),
                worldSize, 2, null, null, null, null, null, ranksPerNode, gpusPerNode, tensorParallel));
    }

    /**
     * OPT-175B's split: tensor parallel 8 inside each node of 8 GPUs, 124 data-parallel ranks; the trainer is told.
     * A group that would leave its node, or that does not divide the world, the heads or the vocabulary, is refused
     * naming {@code tensorParallel}; on one-rank CPU nodes a group is neighbouring nodes.
     */
    @Test
    void tensorParallelGroupsStayInsideANode() {
        RunSpecRequest.Model opt175 = new RunSpecRequest.Model("175B", null, null, null, null, null);
        RunSpec spec = resolve(opt175, 992, null, 8, 8);
        assertThat(spec.tensorParallel()).isEqualTo(8);
        assertThat(spec.dataParallel()).isEqualTo(124);
        assertThat(spec.nodes()).isEqualTo(124);
        assertThat(dev.steadyrun.orchestrator.run.TrainerConfig.of(spec)).containsEntry("tensorParallel", "8");
        assertThat(dev.steadyrun.orchestrator.run.TrainerConfig.of(resolve(992, null, 8)))
                .doesNotContainKey("tensorParallel");
        assertThatThrownBy(() -> resolve(opt175, 992, null, 8, 16)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("tensorParallel").hasMessageContaining("must divide ranksPerNode (8)");
        assertThatThrownBy(() -> resolve(opt175, 992, 1, null, 3)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("must divide worldSize (992)");
        RunSpecRequest.Model sixHeads = new RunSpecRequest.Model(null, 2, 6, 384, null, null);
        assertThatThrownBy(() -> resolve(sixHeads, 4, 1, null, 4)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("must divide model.heads (6)");
        RunSpecRequest.Model oddVocab = new RunSpecRequest.Model(null, 2, 4, 256, null, 50273);
        assertThatThrownBy(() -> resolve(oddVocab, 4, 1, null, 2)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("must divide model.vocab (50273)");
        RunSpec cpu = resolve(opt175, 4, 1, null, 4);
        assertThat(cpu.nodes()).as("one-rank CPU nodes: the group is 4 neighbouring nodes").isEqualTo(4);
        assertThat(cpu.dataParallel()).isEqualTo(1);
    }

    @Test
    void nineHundredNinetyTwoRanksTakeOneHundredTwentyFourWholeNodesOfEightAndTwoSpareNodes() {
        RunSpec spec = resolve(992, null, 8);
        assertThat(spec.ranksPerNode()).as("one rank per GPU by default").isEqualTo(8);
        assertThat(spec.nodes()).isEqualTo(124);
        List<Candidate> fleet = new ArrayList<>();
        for (int i = 0; i < 130; i++) {
            fleet.add(new Candidate(UUID.randomUUID(), String.format("host-%03d", i),
                    Map.of("zone", "z", "rack", "r" + i / 32), i == 7 ? 4 : 8));
        }
        List<Candidate> fits = fleet.stream().filter(c -> spec.fits(c.labels(), c.gpus())).toList();
        assertThat(fits).as("a node with 4 GPUs cannot hold 8 ranks").hasSize(129);
        GangPlacer.Gang gang = GangPlacer.place(fits, spec.nodes(), spec.spares()).orElseThrow();
        assertThat(gang.ranks()).hasSize(124);
        assertThat(gang.spares()).hasSize(2);
        var all = new HashSet<>(gang.ranks());
        all.addAll(gang.spares());
        assertThat(all).as("every node holds one seat").hasSize(126);
        assertThat(GangPlacer.place(fits.subList(0, 125), spec.nodes(), spec.spares())).as("all or nothing").isEmpty();
    }

    @Test
    void ranksMustFillWholeNodesAndMatchTheGpus() {
        assertThatThrownBy(() -> resolve(990, null, 8)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("worldSize");
        assertThatThrownBy(() -> resolve(992, 4, 8)).isInstanceOf(InvalidRunSpecException.class)
                .hasMessageContaining("ranksPerNode");
        RunSpec cpu = resolve(4, 2, null);
        assertThat(cpu.gpusPerNode()).isZero();
        assertThat(cpu.nodes()).isEqualTo(2);
        assertThat(cpu.fits(Map.of("gpu", "none"), 0)).as("CPU ranks run on nodes without GPUs").isTrue();
        assertThat(resolve(3, null, null).ranksPerNode()).as("one rank per node as before").isEqualTo(1);
    }
}
