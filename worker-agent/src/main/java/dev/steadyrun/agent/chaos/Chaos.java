package dev.steadyrun.agent.chaos;

import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.agent.gpu.FaultInjector;
import dev.steadyrun.agent.trainer.NodeTrainers;
import dev.steadyrun.protocol.ChaosFault;

/**
 * TEST TOOL — injects the faults the orchestrator's chaos API (off unless the orchestrator enables it) sends in a
 * heartbeat answer, through the agent's own fault paths: the GPU report's {@link FaultInjector}, the trainer's fault
 * file, the checkpoint store, or the end of this process. Faults for a run, generation or rank this node is not
 * running are ignored (the trainer side checks that).
 */
public final class Chaos implements Consumer<ChaosFault> {

    private static final Logger log = LoggerFactory.getLogger(Chaos.class);
    /**
     * XID 79: the GPU has fallen off the bus, the fault the orchestrator fails a node for at once; on the GPU of the
     * fault's rank (GPU 0 when the node runs one rank on no GPU of its own).
     */
    static String gpuFault(int gpu) {
        return "xid 79 gpu=" + gpu;
    }

    private final NodeTrainers trainer;
    private final FaultInjector gpus;
    private final Runnable halt;

    /**
     * @param gpus the GPU fault injector, null on a node without GPUs
     * @param halt ends this process at once, without its shutdown (no SIGTERM to the trainer, no last report)
     */
    public Chaos(NodeTrainers trainer, FaultInjector gpus, Runnable halt) {
        this.trainer = trainer;
        this.gpus = gpus;
        this.halt = halt;
    }

    @Override
    public void accept(ChaosFault fault) {
        log.warn("chaos #{} (test tool): {} for run {} generation {} rank {}", fault.id(), fault.kind(),
                fault.runId(), fault.generation(), fault.rank());
        switch (fault.kind()) {
            case KILL_NODE -> {
                // as if the host lost power: the trainer killed outright, no heartbeat, no report, no clean stop
                trainer.killNow();
                halt.run();
            }
            case GPU_FAULT -> {
                if (gpus == null) {
                    log.warn("chaos #{}: this node has no GPU to fault", fault.id());
                } else {
                    gpus.inject(gpuFault(trainer.gpuOf(fault.rank()).orElse(0)));
                }
            }
            case HANG, STRAGGLE, DIVERGE -> trainer.injectIntoTrainer(fault);
            case CORRUPT_CHECKPOINT -> trainer.corruptCheckpoint(fault);
        }
    }
}
