package dev.steadyrun.collectives;

import java.time.Duration;

import dev.steadyrun.protocol.RingSecret;

/**
 * Where and how one rank joins its generation's ring. Every value is checked here, and a rejected value is named.
 *
 * @param runId            the run; a rank of another run is refused at rendezvous
 * @param generation       the orchestrator's generation; every hello and every frame carries it
 * @param rank             this rank, 0 to worldSize - 1; rank 0 listens on {@code rendezvous}
 * @param worldSize        number of ranks
 * @param rendezvous       host:port of rank 0's rendezvous endpoint
 * @param connectTimeout   how long to keep retrying a connection (rank 0 or a ring neighbour may still be starting)
 * @param handshakeTimeout how long rank 0 waits for every rank to say hello, and the others for rank 0's answer
 * @param operationTimeout a collective that receives nothing from its predecessor for this long fails
 * @param bucketBytes      frame payload size: the unit the ring streams in
 * @param ringSecret       the generation's secret every hello is authenticated with; required when worldSize > 1
 */
public record DistConfig(String runId, long generation, int rank, int worldSize, String rendezvous,
                         Duration connectTimeout, Duration handshakeTimeout, Duration operationTimeout,
                         int bucketBytes, RingSecret ringSecret) {

    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(120);
    public static final Duration DEFAULT_OPERATION_TIMEOUT = Duration.ofSeconds(60);
    /** 1 MiB: faster than 4 or 16 MiB in paired runs of bench/collectives.sh (frames and scratch stay in cache). */
    public static final int DEFAULT_BUCKET_BYTES = 1 << 20;

    public DistConfig {
        require(runId != null && !runId.isBlank(), "runId", "must not be blank");
        require(generation >= 0, "generation", "must be >= 0, was " + generation);
        require(worldSize >= 1, "worldSize", "must be >= 1, was " + worldSize);
        require(rank >= 0 && rank < worldSize, "rank", "must be in [0, " + worldSize + "), was " + rank);
        require(worldSize == 1 || rendezvous != null, "rendezvous", "is required when worldSize > 1");
        require(worldSize == 1 || ringSecret != null, "ringSecret",
                "is required when worldSize > 1 (the agent passes it in " + RingSecret.ENV + ")");
        if (rendezvous != null) {
            host(rendezvous);
            port(rendezvous);
        }
        requirePositive(connectTimeout, "connectTimeout");
        requirePositive(handshakeTimeout, "handshakeTimeout");
        requirePositive(operationTimeout, "operationTimeout");
        require(bucketBytes >= 8 && bucketBytes % 8 == 0 && bucketBytes <= (64 << 20), "bucketBytes",
                "must be a multiple of 8 in [8, 64 MiB], was " + bucketBytes);
    }

    /** The defaults for everything but the rank's identity. */
    public static DistConfig of(String runId, long generation, int rank, int worldSize, String rendezvous,
                                RingSecret ringSecret) {
        return new DistConfig(runId, generation, rank, worldSize, rendezvous, DEFAULT_CONNECT_TIMEOUT,
                DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_OPERATION_TIMEOUT, DEFAULT_BUCKET_BYTES, ringSecret);
    }

    public DistConfig withTimeouts(Duration connect, Duration handshake, Duration operation) {
        return new DistConfig(runId, generation, rank, worldSize, rendezvous, connect, handshake, operation,
                bucketBytes, ringSecret);
    }

    public DistConfig withBucketBytes(int bytes) {
        return new DistConfig(runId, generation, rank, worldSize, rendezvous, connectTimeout, handshakeTimeout,
                operationTimeout, bytes, ringSecret);
    }

    public String rendezvousHost() {
        return host(rendezvous);
    }

    int rendezvousPort() {
        return port(rendezvous);
    }

    private static String host(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        require(colon > 0, "rendezvous", "must be host:port, was '" + hostPort + "'");
        return hostPort.substring(0, colon);
    }

    private static int port(String hostPort) {
        String text = hostPort.substring(hostPort.lastIndexOf(':') + 1);
        int port;
        try {
            port = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            port = -1;
        }
        require(port > 0 && port < 65536, "rendezvous", "port must be in [1, 65535], was '" + text + "'");
        return port;
    }

    private static void requirePositive(Duration d, String field) {
        require(d != null && !d.isNegative() && !d.isZero(), field, "must be a positive duration, was " + d);
    }

    private static void require(boolean ok, String field, String problem) {
        if (!ok) {
            throw new IllegalArgumentException("dist config: " + field + " " + problem);
        }
    }
}
