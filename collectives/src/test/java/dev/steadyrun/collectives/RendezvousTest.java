package dev.steadyrun.collectives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.RingSecret;

class RendezvousTest {

    private static CompletableFuture<float[]> joinAndSum(DistConfig config, float value) {
        return CompletableFuture.supplyAsync(() -> {
            try (Collectives c = Rendezvous.join(config)) {
                float[] data = {value, value * 2};
                c.allReduceSum(data);
                return data;
            }
        });
    }

    @Test
    void aRankOfAnOlderGenerationIsRefusedAndTheRightRankStillJoins() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 7, 0, 2, 64), 1);

        assertThatThrownBy(() -> Rendezvous.join(TestRing.config(port, 6, 1, 2, 64)))
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.STALE_GENERATION))
                .hasMessageContaining("generation 6")
                .hasMessageContaining("this ring is generation 7")
                .hasMessageContaining("stale");

        float[] rank1 = joinAndSum(TestRing.config(port, 7, 1, 2, 64), 10).get(10, TimeUnit.SECONDS);
        assertThat(rank1).containsExactly(11, 22);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
    }

    @Test
    void aRankOfAnotherRunIsRefusedEvenAtANewerGenerationAndTheRightRankStillJoins() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 1, 0, 2, 64), 1);
        DistConfig same = TestRing.config(port, 1, 1, 2, 64);
        for (long generation : new long[] {1, 2}) {
            DistConfig other = new DistConfig("run-other", generation, 1, 2, same.rendezvous(),
                    same.connectTimeout(), same.handshakeTimeout(), same.operationTimeout(), 64, TestRing.SECRET);
            assertThatThrownBy(() -> Rendezvous.join(other)).isInstanceOf(CollectiveException.class)
                    .hasMessageContaining("belongs to run run-other");
        }
        float[] rank1 = joinAndSum(same, 10).get(10, TimeUnit.SECONDS);
        assertThat(rank1).containsExactly(11, 22);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).as("another run's newer generation did not stale rank 0")
                .containsExactly(11, 22);
    }

    @Test
    void aRankZeroOfAnOlderGenerationExitsStaleWhenAnAuthenticatedNewerRankArrives() throws Exception {
        // the test ring's generations share one secret; generations placed by the orchestrator never do
        int port = TestRing.freePort();
        CompletableFuture<float[]> staleRank0 = joinAndSum(TestRing.config(port, 3, 0, 2, 64), 1);

        assertThatThrownBy(() -> Rendezvous.join(TestRing.config(port, 4, 1, 2, 64)))
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.PEER_LOST))
                .hasMessageContaining("rank 0 is stale");
        assertThatThrownBy(() -> staleRank0.get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.STALE_GENERATION))
                .hasMessageContaining("newer generation 4");
    }

    /**
     * Speaks the rendezvous protocol without the ring secret, as anyone who knows the run id and the generation
     * could: a hello claiming a rank, then a made-up proof. Returns rank 0's refusal.
     */
    private static String intrude(int port, long generation, int rank) throws Exception {
        try (Socket socket = connectWhenListening(port)) {
            socket.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            new Wire.Hello(TestRing.RUN, generation, rank, 2, "127.0.0.1", 9, RingAuth.nonce()).write(out, Wire.HELLO);
            assertThat(Wire.readStart(in)).as("rank 0 challenges before it believes anything")
                    .isEqualTo(Wire.CHALLENGE);
            Wire.readBytes(in, RingAuth.NONCE_BYTES + RingAuth.MAC_BYTES);
            Wire.writeProof(out, RingAuth.nonce());
            assertThat(Wire.readStart(in)).isEqualTo(Wire.REFUSE);
            in.readInt();
            return in.readUTF();
        }
    }

    /** Rank 0 starts on another thread: wait until it listens (readiness, not timing). */
    private static Socket connectWhenListening(int port) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try {
                return new Socket("127.0.0.1", port);
            } catch (java.net.ConnectException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    @Test
    void anIntruderWithoutTheRingSecretTakesNoSeatAndTheRingStillForms() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 7, 0, 2, 64), 1);

        assertThat(intrude(port, 7, 1)).contains("failed authentication");

        float[] rank1 = joinAndSum(TestRing.config(port, 7, 1, 2, 64), 10).get(10, TimeUnit.SECONDS);
        assertThat(rank1).containsExactly(11, 22);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
    }

    @Test
    void anUnauthenticatedHelloOfANewerGenerationDoesNotMakeRankZeroExit() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 3, 0, 2, 64), 1);

        assertThat(intrude(port, 4, 1)).contains("failed authentication");
        assertThat(rank0).as("rank 0 still waits for its rank 1").isNotDone();

        assertThat(joinAndSum(TestRing.config(port, 3, 1, 2, 64), 10).get(10, TimeUnit.SECONDS))
                .containsExactly(11, 22);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
    }

    @Test
    void anIntruderThatConnectsFirstAndSaysNothingIsCutOffAndTheRingStillForms() throws Exception {
        int port = TestRing.freePort();
        Duration handshake = Duration.ofMillis(3 * Rendezvous.PEER_HANDSHAKE_MILLIS);
        DistConfig zero = TestRing.config(port, 2, 0, 2, 64).withTimeouts(handshake, handshake, Duration.ofSeconds(5));
        DistConfig one = TestRing.config(port, 2, 1, 2, 64).withTimeouts(handshake, handshake, Duration.ofSeconds(5));
        CompletableFuture<float[]> rank0 = joinAndSum(zero, 1);
        try (Socket silent = connectWhenListening(port)) {
            // queued behind the silent connection: rank 0 reaches it once the silent one is cut
            float[] rank1 = joinAndSum(one, 10).get(handshake.toMillis() - 1000, TimeUnit.MILLISECONDS);
            assertThat(rank1).containsExactly(11, 22);
            assertThat(silent.getInputStream().read()).as("rank 0 hung up on the silent connection").isEqualTo(-1);
        }
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
    }

    @Test
    void aRankWithAnotherSecretGivesUpOnRankZeroAndTheRightRankStillJoins() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 5, 0, 2, 64), 1);
        DistConfig right = TestRing.config(port, 5, 1, 2, 64);
        DistConfig otherSecret = new DistConfig(right.runId(), 5, 1, 2, right.rendezvous(), right.connectTimeout(),
                right.handshakeTimeout(), right.operationTimeout(), 64, RingSecret.random());

        assertThatThrownBy(() -> Rendezvous.join(otherSecret))
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.PEER_LOST))
                .hasMessageContaining("did not prove this generation's ring secret");

        assertThat(joinAndSum(right, 10).get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(11, 22);
    }

    @Test
    void aRankDoesNotTakeTheRingAddressesFromARankZeroThatNeverProvedItself() throws Exception {
        try (ServerSocket impostor = new ServerSocket(0)) {
            CompletableFuture<Void> answer = CompletableFuture.runAsync(() -> {
                try (Socket s = impostor.accept()) {
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    Wire.Hello.read(in, Wire.HELLO);
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    Wire.writeStart(out, Wire.WELCOME);
                    out.writeInt(2);
                    for (int r = 0; r < 2; r++) {
                        out.writeUTF("127.0.0.1");
                        out.writeInt(impostor.getLocalPort());
                    }
                    out.write(RingAuth.nonce());
                    out.flush();
                    in.read(); // until the rank hangs up
                } catch (java.io.IOException hungUp) {
                    // the rank may hang up before the whole welcome is written: what the test expects
                }
            });
            assertThatThrownBy(() -> Rendezvous.join(TestRing.config(impostor.getLocalPort(), 1, 1, 2, 64)))
                    .isInstanceOf(PeerLostException.class).hasMessageContaining("unexpected answer");
            answer.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aOneRankWorldNeedsNoSecretButTakesOne() {
        try (Collectives alone = Rendezvous.join(DistConfig.of("run", 1, 0, 1, null, RingSecret.random()))) {
            float[] data = {3};
            alone.allReduceSum(data);
            assertThat(data).containsExactly(3);
        }
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 2, "127.0.0.1:1234", null))
                .hasMessageContaining("ringSecret is required when worldSize > 1");
    }

    @Test
    void aFrameOfAnotherGenerationIsRefused() {
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(Wire.HEADER_BYTES);
        Wire.writeHeader(header, 3, 17, 64);
        assertThat(Wire.checkHeader(header, 3, 17, 64)).isNull();
        assertThat(Wire.checkHeader(header, 4, 17, 64)).isEqualTo(new Wire.HeaderProblem(ExitCodes.STALE_GENERATION,
                "frame of generation 3 on a generation 4 ring"));
        Wire.HeaderProblem outOfStep = Wire.checkHeader(header, 3, 18, 64);
        assertThat(outOfStep.exitCode()).isEqualTo(ExitCodes.PEER_LOST);
        assertThat(outOfStep.message()).contains("out-of-step frame");
    }

    @Test
    void aWrongWorldSizeOrADuplicateRankIsRefusedWithoutDisturbingTheOthers() throws Exception {
        int port = TestRing.freePort();
        CompletableFuture<float[]> rank0 = joinAndSum(TestRing.config(port, 1, 0, 3, 64), 1);
        CompletableFuture<float[]> rank1 = joinAndSum(TestRing.config(port, 1, 1, 3, 64), 2);

        assertThatThrownBy(() -> Rendezvous.join(TestRing.config(port, 1, 2, 4, 64)))
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.BAD_CONFIG))
                .hasMessageContaining("expects world size 4, this ring has 3");
        // rank 1 may not have said hello yet; wait until it has, so the duplicate is the second one
        Thread.sleep(300);
        assertThatThrownBy(() -> Rendezvous.join(TestRing.config(port, 1, 1, 3, 64)))
                .isInstanceOfSatisfying(CollectiveException.class,
                        e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.BAD_CONFIG))
                .hasMessageContaining("already joined");

        float[] rank2 = joinAndSum(TestRing.config(port, 1, 2, 3, 64), 4).get(10, TimeUnit.SECONDS);
        assertThat(rank2).containsExactly(7, 14);
        assertThat(rank0.get(10, TimeUnit.SECONDS)).containsExactly(7, 14);
        assertThat(rank1.get(10, TimeUnit.SECONDS)).containsExactly(7, 14);
    }

    @Test
    void aRankThatNeverJoinsFailsTheRendezvousOnEveryRankAfterTheHandshakeTimeout() {
        int port = uncheckedFreePort();
        Duration handshake = Duration.ofSeconds(1);
        DistConfig rank0 = TestRing.config(port, 1, 0, 3, 64).withTimeouts(Duration.ofSeconds(5), handshake,
                Duration.ofSeconds(5));
        DistConfig rank1 = TestRing.config(port, 1, 1, 3, 64).withTimeouts(Duration.ofSeconds(5),
                Duration.ofSeconds(30), Duration.ofSeconds(5));
        CompletableFuture<float[]> zero = joinAndSum(rank0, 1);
        CompletableFuture<float[]> one = joinAndSum(rank1, 1);

        assertThatThrownBy(() -> zero.get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(PeerLostException.class).hasMessageContaining("ranks [2] of 3 did not join");
        // rank 1 waits longer than rank 0, and learns at once that rank 0 gave up
        assertThatThrownBy(() -> one.get(5, TimeUnit.SECONDS)).cause()
                .isInstanceOf(PeerLostException.class).hasMessageContaining("rank 1/3");
    }

    @Test
    void aSilentPeerMakesEveryOtherRankFailWithinTheOperationTimeout() throws Exception {
        int port = TestRing.freePort();
        Duration operation = Duration.ofSeconds(1);
        CountDownLatch othersDone = new CountDownLatch(2);
        CompletableFuture<Long>[] elapsed = new CompletableFuture[2];
        for (int r = 0; r < 2; r++) {
            DistConfig config = TestRing.config(port, 1, r, 3, 64).withTimeouts(Duration.ofSeconds(5),
                    Duration.ofSeconds(5), operation);
            elapsed[r] = CompletableFuture.supplyAsync(() -> {
                try (Collectives c = Rendezvous.join(config)) {
                    long start = System.nanoTime();
                    try {
                        c.allReduceSum(new float[1000]);
                        return -1L;
                    } catch (PeerLostException e) {
                        assertThat(e.exitCode()).isEqualTo(ExitCodes.PEER_LOST);
                        assertThat(e).hasMessageContaining("allReduceSum");
                        return (System.nanoTime() - start) / 1_000_000;
                    } finally {
                        othersDone.countDown();
                    }
                }
            });
        }
        // rank 2 joins the ring but never calls the collective (a hung or partitioned process)
        try (Collectives silent = Rendezvous.join(TestRing.config(port, 1, 2, 3, 64))) {
            assertThat(othersDone.await(10, TimeUnit.SECONDS)).isTrue();
        }
        for (CompletableFuture<Long> e : elapsed) {
            long millis = e.get();
            assertThat(millis).as("failed after ms").isBetween(0L, operation.toMillis() + 3000);
        }
        // at least one rank waited for the timeout itself: its predecessor, the silent rank, sent nothing
        assertThat(Math.max(elapsed[0].get(), elapsed[1].get())).isGreaterThanOrEqualTo(operation.toMillis() - 100);
    }

    @Test
    void configErrorsNameTheField() {
        assertThatThrownBy(() -> DistConfig.of("run", 1, 3, 3, "127.0.0.1:1234", TestRing.SECRET))
                .hasMessageContaining("rank must be in [0, 3), was 3");
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 2, "localhost", TestRing.SECRET))
                .hasMessageContaining("rendezvous must be host:port");
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 2, "localhost:http", TestRing.SECRET))
                .hasMessageContaining("rendezvous port must be in [1, 65535], was 'http'");
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 2, null, TestRing.SECRET))
                .hasMessageContaining("rendezvous is required");
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 1, null, null).withBucketBytes(100))
                .hasMessageContaining("bucketBytes must be a multiple of 8");
        assertThatThrownBy(() -> DistConfig.of("run", 1, 0, 1, null, null).withTimeouts(Duration.ZERO,
                Duration.ofSeconds(1), Duration.ofSeconds(1))).hasMessageContaining("connectTimeout");
    }

    private static int uncheckedFreePort() {
        try {
            return TestRing.freePort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
