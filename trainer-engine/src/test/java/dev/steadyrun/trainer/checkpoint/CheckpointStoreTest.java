package dev.steadyrun.trainer.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class CheckpointStoreTest {

    private static final Retention KEEP_ALL = new Retention(1000, 0);

    @TempDir
    Path root;

    /** Arrays whose values exercise every bit pattern class: NaN payloads, -0, infinities, subnormals. */
    private static Map<String, INDArray> sampleArrays() {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        float[] f = {
            1.5f, -0.0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, Float.MAX_VALUE,
            Float.intBitsToFloat(0x7fc01234), (float) Math.PI, 1e-30f, -7.25f, 3f, 0.1f
        };
        double[] d = {
            0.1, -0.0, Double.NEGATIVE_INFINITY, Double.MIN_VALUE, Double.longBitsToDouble(0x7ff8000000abcdefL),
            Math.E, -1e300, 42
        };
        arrays.put("scalar.float", Nd4j.scalar(2.75f));
        arrays.put("scalar.double", Nd4j.scalar(-1.0 / 3));
        arrays.put("vector.float", Nd4j.create(f, new long[] {12}, DataType.FLOAT));
        arrays.put("matrix.float", Nd4j.create(f, new long[] {3, 4}, DataType.FLOAT));
        arrays.put("cube.double", Nd4j.create(d, new long[] {2, 2, 2}, DataType.DOUBLE));
        arrays.put("layer0/attn.w", Nd4j.rand(DataType.FLOAT, 5, 7));
        arrays.put("layer0_attn.w", Nd4j.rand(DataType.DOUBLE, 1, 3));
        // A transposed view and an f-order array are written as their row-major values.
        arrays.put("view.transposed", Nd4j.create(f, new long[] {3, 4}, DataType.FLOAT).transpose());
        arrays.put("fortran", Nd4j.rand(DataType.DOUBLE, 'f', 4, 3));
        arrays.put("ints", Nd4j.createFromArray(1, -2, Integer.MAX_VALUE));
        arrays.put("half", Nd4j.rand(DataType.FLOAT, 6).castTo(DataType.HALF));
        return arrays;
    }

    private static byte[] rowMajorBytes(INDArray a) {
        INDArray c = a.dup('c');
        ByteBuffer b = c.data().asNio();
        byte[] out = new byte[(int) (c.length() * c.dataType().width())];
        b.get(0, out);
        return out;
    }

    private static void assertBitExact(Map<String, INDArray> expected, Map<String, INDArray> actual) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((name, e) -> {
            INDArray a = actual.get(name);
            assertThat(a.dataType()).as(name).isEqualTo(e.dataType());
            assertThat(a.shape()).as(name).isEqualTo(e.shape());
            assertThat(rowMajorBytes(a)).as(name).isEqualTo(rowMajorBytes(e));
        });
    }

    private static CheckpointContent content(long step) {
        return new CheckpointContent(step, Map.of("w", Nd4j.createFromArray((float) step, 1f, 2f)),
                "{\"step\":" + step + "}");
    }

    @Test
    void roundTripIsBitExactForEveryShapeAndType() throws IOException {
        Map<String, INDArray> arrays = sampleArrays();
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            WrittenCheckpoint w = store.write(new CheckpointContent(100, arrays, "{\"lr\":1e-4,\"é\":\"✓\"}"));
            assertThat(w.path()).isEqualTo(root.resolve("step-00000100"));
            assertThat(w.step()).isEqualTo(100);
            assertThat(w.manifestSha256()).isEqualTo(CheckpointStore.manifestSha256(w.path()))
                    .isEqualTo(sha256Hex(Files.readAllBytes(w.path().resolve("manifest.json"))));
            try (Stream<Path> files = Files.list(w.path())) {
                long total = files.mapToLong(p -> p.toFile().length()).sum();
                assertThat(w.bytes()).isEqualTo(total);
            }
        }
        CheckpointContent loaded = CheckpointStore.load(root.resolve("step-00000100"));
        assertThat(loaded.step()).isEqualTo(100);
        assertThat(loaded.stateJson()).isEqualTo("{\"lr\":1e-4,\"é\":\"✓\"}");
        assertBitExact(arrays, loaded.arrays());
    }

    @Test
    void manifestDescribesEveryFile() throws IOException {
        Path dir;
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            dir = store.write(new CheckpointContent(7, sampleArrays(), "{}")).path();
        }
        JsonNode m = JsonMapper.builder().build().readTree(dir.resolve("manifest.json").toFile());
        assertThat(m.get("format").asInt()).isEqualTo(1);
        assertThat(m.get("step").asLong()).isEqualTo(7);
        List<String> names = new ArrayList<>();
        for (JsonNode f : m.get("files")) {
            String name = f.get("name").asString();
            names.add(name);
            Path file = dir.resolve(name);
            assertThat(f.get("bytes").asLong()).isEqualTo(Files.size(file));
            assertThat(f.get("sha256").asString()).isEqualTo(sha256Hex(Files.readAllBytes(file)));
            if (name.endsWith(".arr")) {
                assertThat(f.get("dtype").asString()).isNotEmpty();
                assertThat(f.get("shape").isArray()).isTrue();
            }
        }
        assertThat(names).contains("state.json", "layer0_attn.w.arr", "layer0_attn.w-2.arr")
                .doesNotContain("manifest.json").hasSize(sampleArrays().size() + 1);
        JsonNode matrix = stream(m.get("files")).filter(f -> f.path("array").asString("").equals("matrix.float"))
                .findFirst().orElseThrow();
        assertThat(matrix.get("dtype").asString()).isEqualTo("FLOAT");
        assertThat(matrix.get("shape").toString()).isEqualTo("[3,4]");
    }

    @Test
    void asyncWriteCopiesTheArraysBeforeReturning() throws Exception {
        INDArray weights = Nd4j.createFromArray(1.0f, 2.0f, 3.0f);
        INDArray expected = weights.dup();
        CompletableFuture<WrittenCheckpoint> future;
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            future = store.writeAsync(new CheckpointContent(5, Map.of("w", weights), "{}"));
            weights.addi(100); // training goes on at once
        }
        assertThat(future).isDone();
        CheckpointContent loaded = CheckpointStore.load(future.get().path());
        assertBitExact(Map.of("w", expected), loaded.arrays());
    }

    @Test
    void asyncWritesLandInSubmissionOrder() throws Exception {
        List<Long> completed = new ArrayList<>();
        List<CompletableFuture<WrittenCheckpoint>> futures = new ArrayList<>();
        try (CheckpointStore store = new CheckpointStore(root, new Retention(3, 0))) {
            for (long step = 1; step <= 6; step++) {
                futures.add(store.writeAsync(content(step)).whenComplete((w, e) -> {
                    synchronized (completed) {
                        completed.add(w.step());
                    }
                }));
            }
            // A synchronous write queues behind them.
            assertThat(store.write(content(7)).step()).isEqualTo(7);
            assertThat(futures).allMatch(CompletableFuture::isDone);
            assertThat(completed).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
            assertThat(store.list()).extracting(p -> p.getFileName().toString())
                    .containsExactly("step-00000005", "step-00000006", "step-00000007");
        }
    }

    @Test
    void closedStoreRefusesWrites() {
        CheckpointStore store = new CheckpointStore(root, KEEP_ALL);
        store.close();
        assertThatThrownBy(() -> store.writeAsync(content(1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void rewritingAStepReplacesIt() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            store.write(new CheckpointContent(3, Map.of("w", Nd4j.createFromArray(1.0)), "old"));
            store.write(new CheckpointContent(3, Map.of("v", Nd4j.createFromArray(2.0)), "new"));
            assertThat(store.list()).hasSize(1);
        }
        CheckpointContent loaded = CheckpointStore.load(root.resolve("step-00000003"));
        assertThat(loaded.stateJson()).isEqualTo("new");
        assertThat(loaded.arrays()).containsOnlyKeys("v");
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void retentionKeepsTheNewestAndEveryKeepEvery() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, new Retention(2, 4))) {
            List<Long> removed = new ArrayList<>();
            for (long step = 1; step <= 10; step++) {
                removed.addAll(store.write(content(step)).removedSteps());
            }
            assertThat(store.list()).extracting(p -> p.getFileName().toString())
                    .containsExactly("step-00000004", "step-00000008", "step-00000009", "step-00000010");
            assertThat(removed).as("each deletion is reported once").containsExactly(1L, 2L, 3L, 5L, 6L, 7L);
        }
        try (CheckpointStore store = new CheckpointStore(root, new Retention(1, 0))) {
            assertThat(store.write(content(11)).removedSteps()).containsExactly(4L, 8L, 9L, 10L);
            assertThat(store.list()).extracting(p -> p.getFileName().toString()).containsExactly("step-00000011");
        }
        assertThat(leftovers()).isEmpty();
    }

    /**
     * The restore point a restart chose stays while the stopping trainer writes on: retention keeps a pinned step
     * (the agent writes the pin file at any time, so it is read before every deletion).
     */
    @Test
    void retentionKeepsAPinnedStep() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, new Retention(1, 0))) {
            store.write(content(1));
            store.write(content(2));
            Files.writeString(root.resolve("pinned-steps"), "2\n");
            assertThat(store.write(content(3)).removedSteps()).isEmpty();
            assertThat(store.write(content(4)).removedSteps()).containsExactly(3L);
            assertThat(store.list()).extracting(p -> p.getFileName().toString())
                    .containsExactly(CheckpointStore.dirName(2), CheckpointStore.dirName(4));
            Files.delete(root.resolve("pinned-steps"));
            assertThat(store.write(content(5)).removedSteps()).containsExactly(2L, 4L);
        }
    }

    @Test
    void leftoverTempDirectoriesAreIgnoredAndCleanedOnOpen() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            store.write(content(1));
        }
        // A crash during a write: every file, even a manifest, but never renamed into place.
        Path crashed = root.resolve(".tmp-step-00000002-deadbeef");
        Files.createDirectory(crashed);
        Files.writeString(crashed.resolve("manifest.json"), "{}");
        Files.createDirectory(root.resolve("step-00000003")); // no manifest: not complete either
        try (CheckpointStore reopened = new CheckpointStore(root, KEEP_ALL)) {
            assertThat(reopened.list()).extracting(p -> p.getFileName().toString()).containsExactly("step-00000001");
        }
        assertThat(crashed).doesNotExist();
        assertThat(CheckpointStore.latestValid(root)).contains(root.resolve("step-00000001"));
    }

    @Test
    void aSecondStoreLeavesTheFirstOnesWritesInProgressAlone() throws IOException {
        Path inFlight = root.resolve(".tmp-step-00000009-0123");
        try (CheckpointStore trainer = new CheckpointStore(root, KEEP_ALL)) {
            Files.createDirectory(inFlight); // stands for the trainer's write in progress
            try (CheckpointStore reader = new CheckpointStore(root, KEEP_ALL)) {
                assertThat(reader.list()).isEmpty();
            }
            assertThat(inFlight).exists();
        }
        new CheckpointStore(root, KEEP_ALL).close();
        assertThat(inFlight).doesNotExist();
    }

    @Test
    void truncatedFileIsCorrupt() throws IOException {
        Path dir = writeSample();
        Path file = dir.resolve("matrix.float.arr");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 1);
        }
        assertCorrupt(dir, "matrix.float.arr", "bytes");
    }

    @Test
    void flippedByteIsCorrupt() throws IOException {
        Path dir = writeSample();
        flipLastByte(dir.resolve("cube.double.arr"));
        assertCorrupt(dir, "cube.double.arr", "SHA-256");
    }

    @Test
    void flippedByteInTheStateIsCorrupt() throws IOException {
        Path dir = writeSample();
        flipLastByte(dir.resolve("state.json"));
        assertCorrupt(dir, "state.json", "SHA-256");
    }

    @Test
    void missingFileIsCorrupt() throws IOException {
        Path dir = writeSample();
        Files.delete(dir.resolve("half.arr"));
        assertCorrupt(dir, "half.arr", "missing");
    }

    @Test
    void missingManifestIsCorrupt() throws IOException {
        Path dir = writeSample();
        Files.delete(dir.resolve("manifest.json"));
        assertCorrupt(dir, "manifest.json", "missing");
    }

    @Test
    void unlistedFileIsCorrupt() throws IOException {
        Path dir = writeSample();
        Files.writeString(dir.resolve("stray.arr"), "x");
        assertCorrupt(dir, "stray.arr", "not listed");
    }

    @Test
    void manifestShapeThatDisagreesWithTheFileIsCorrupt() throws IOException {
        Path dir = writeSample();
        Path manifest = dir.resolve("manifest.json");
        String original = Files.readString(manifest);
        String matrixShape = "\"array\" : \"matrix.float\",\n    \"dtype\" : \"FLOAT\",\n    \"shape\" : [ 3, 4 ]";
        assertThat(original).contains(matrixShape);
        Files.writeString(manifest, original.replace(matrixShape, matrixShape.replace("3, 4", "4, 3")));
        assertThatThrownBy(() -> CheckpointStore.load(dir)).isInstanceOf(CorruptCheckpointException.class)
                .hasMessageContaining("matrix.float.arr").hasMessageContaining("header");
        Files.writeString(manifest, original.replace(matrixShape, matrixShape.replace("3, 4", "3, 5")));
        assertThatThrownBy(() -> CheckpointStore.load(dir)).isInstanceOf(CorruptCheckpointException.class)
                .hasMessageContaining("manifest.json").hasMessageContaining("do not add up");
    }

    @Test
    void latestValidSkipsACorruptNewest() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            for (long step = 10; step <= 30; step += 10) {
                store.write(content(step));
            }
        }
        assertThat(CheckpointStore.latestValid(root)).contains(root.resolve("step-00000030"));
        flipLastByte(root.resolve("step-00000030").resolve("w.arr"));
        assertThat(CheckpointStore.latestValid(root)).contains(root.resolve("step-00000020"));
        Files.delete(root.resolve("step-00000020").resolve("state.json"));
        assertThat(CheckpointStore.latestValid(root)).contains(root.resolve("step-00000010"));
        flipLastByte(root.resolve("step-00000010").resolve("manifest.json"));
        assertThat(CheckpointStore.latestValid(root)).isEmpty();
        assertThat(CheckpointStore.latestValid(root.resolve("nothing-here"))).isEmpty();
    }

    @Test
    void rejectsBadContentNamingTheField() {
        assertThatThrownBy(() -> new CheckpointContent(-1, Map.of(), "{}")).hasMessageContaining("step");
        assertThatThrownBy(() -> new CheckpointContent(1, null, "{}")).hasMessageContaining("arrays");
        assertThatThrownBy(() -> new CheckpointContent(1, Map.of(), null)).hasMessageContaining("stateJson");
        assertThatThrownBy(() -> new Retention(0, 0)).hasMessageContaining("keepLast");
        assertThatThrownBy(() -> new Retention(1, -1)).hasMessageContaining("keepEvery");
    }

    private Path writeSample() throws IOException {
        try (CheckpointStore store = new CheckpointStore(root, KEEP_ALL)) {
            Path dir = store.write(new CheckpointContent(1, sampleArrays(), "{\"a\":1}")).path();
            CheckpointStore.verify(dir);
            return dir;
        }
    }

    private static void assertCorrupt(Path dir, String file, String problem) {
        for (ThrowingCheck check : new ThrowingCheck[] {CheckpointStore::load, CheckpointStore::verify}) {
            assertThatThrownBy(() -> check.run(dir))
                    .isInstanceOfSatisfying(CorruptCheckpointException.class, e -> {
                        assertThat(e.file()).isEqualTo(file);
                        assertThat(e.checkpoint()).isEqualTo(dir);
                    })
                    .hasMessageContaining(dir.toString()).hasMessageContaining(file).hasMessageContaining(problem);
        }
    }

    private interface ThrowingCheck {
        void run(Path dir) throws IOException;
    }

    private static void flipLastByte(Path file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(raf.length() - 1);
            int b = raf.read();
            raf.seek(raf.length() - 1);
            raf.write(b ^ 0x01);
        }
    }

    private List<Path> leftovers() throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList();
        }
    }

    private static Stream<JsonNode> stream(JsonNode array) {
        List<JsonNode> nodes = new ArrayList<>();
        array.forEach(nodes::add);
        return nodes.stream();
    }

    private static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
