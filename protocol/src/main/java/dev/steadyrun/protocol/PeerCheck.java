package dev.steadyrun.protocol;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a data-parallel rank found when its ring went silent (a collective timed out): whether its two ring neighbours
 * still answer a TCP connect over the data network (a refusal is an answer). The trainer prints it as the last line
 * of its stderr ({@link #line}) before it exits {@link ExitCodes#PEER_LOST}; the orchestrator finds it in the exit's
 * log tail ({@link #find}) and learns which node is cut off from its peers while its heartbeats still arrive (a
 * partial partition), so that node's rank moves instead of the same ring being formed again.
 *
 * @param rank        the reporting rank
 * @param unreachable neighbour ranks that did not answer
 * @param reachable   neighbour ranks that answered
 */
public record PeerCheck(int rank, int worldSize, List<Integer> unreachable, List<Integer> reachable) {

    static final String PREFIX = "steadyrun peer check: ";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    public PeerCheck {
        unreachable = List.copyOf(unreachable);
        reachable = List.copyOf(reachable);
        if (worldSize < 2 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("peer check: rank " + rank + " of world size " + worldSize);
        }
        for (int r : concat(unreachable, reachable)) {
            if (r != predecessor(rank, worldSize) && r != successor(rank, worldSize)) {
                throw new IllegalArgumentException("peer check: rank " + r + " is not a ring neighbour of " + rank);
            }
        }
    }

    public String line() {
        return PREFIX + JSON.writeValueAsString(this);
    }

    /** The last peer check in a trainer's log tail; a line that does not parse as one is ignored. */
    public static Optional<PeerCheck> find(List<String> logTail) {
        for (int i = logTail.size() - 1; i >= 0; i--) {
            String line = logTail.get(i);
            if (line != null && line.startsWith(PREFIX)) {
                try {
                    return Optional.of(JSON.readValue(line.substring(PREFIX.length()), PeerCheck.class));
                } catch (JacksonException | IllegalArgumentException | NullPointerException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The rank cut off from its peers, when this check alone says so: the reporter itself when neither neighbour
     * answered, the one neighbour that did not answer when the other did. With two ranks each sees only the other,
     * and which side is cut off cannot be told from the ring.
     */
    public OptionalInt cutOffRank() {
        if (worldSize < 3) {
            return OptionalInt.empty();
        }
        if (unreachable.contains(predecessor(rank, worldSize)) && unreachable.contains(successor(rank, worldSize))) {
            return OptionalInt.of(rank);
        }
        if (unreachable.size() == 1 && !reachable.isEmpty()) {
            return OptionalInt.of(unreachable.get(0));
        }
        return OptionalInt.empty();
    }

    public static int predecessor(int rank, int worldSize) {
        return Math.floorMod(rank - 1, worldSize);
    }

    public static int successor(int rank, int worldSize) {
        return (rank + 1) % worldSize;
    }

    private static List<Integer> concat(List<Integer> a, List<Integer> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }
}
