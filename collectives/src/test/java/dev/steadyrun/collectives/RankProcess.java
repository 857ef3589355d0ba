package dev.steadyrun.collectives;

import java.time.Duration;

/**
 * Test tool: one rank as its own JVM. Args: rendezvous port, rank, world size, operation timeout ms. All-reduces
 * forever, printing "iteration k" after each; exits with the failure's exit code.
 */
public final class RankProcess {
    public static void main(String[] args) {
        int port = Integer.parseInt(args[0]);
        int rank = Integer.parseInt(args[1]);
        int worldSize = Integer.parseInt(args[2]);
        Duration operation = Duration.ofMillis(Long.parseLong(args[3]));
        DistConfig config = DistConfig.of(TestRing.RUN, 1, rank, worldSize, "127.0.0.1:" + port, TestRing.SECRET)
                .withTimeouts(Duration.ofSeconds(20), Duration.ofSeconds(20), operation).withBucketBytes(1 << 16);
        try (Collectives c = Rendezvous.join(config)) {
            float[] data = new float[1 << 18];
            for (long k = 0; ; k++) {
                java.util.Arrays.fill(data, 1f);
                c.allReduceSum(data);
                if (data[data.length - 1] != worldSize) {
                    System.err.println("wrong sum " + data[data.length - 1]);
                    System.exit(1);
                }
                System.out.println("iteration " + k);
            }
        } catch (CollectiveException e) {
            System.err.println(e.getMessage());
            System.exit(e.exitCode());
        }
    }
}
