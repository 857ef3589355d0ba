package dev.steadyrun.trainer.checkpoint;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A checkpoint seen as flat vectors ({@link CheckpointPaths#KINDS}: parameters and Adam moments, tensors laid end to
 * end in model order), so that each rank reads only the ranges it owns, whatever world size wrote them: a sharded
 * checkpoint (format 2) maps every shard file to its range, a single-writer one (format 1) every tensor file.
 * Every file is verified (size, SHA-256 against the manifest, header) when first read, and read once.
 *
 * <p>Not thread-safe; {@link #release} drops the files read so far.
 */
public final class CheckpointReader {

    private final Path dir;
    private final Manifest manifest;
    private final String manifestSha256;
    private final String state;
    private final Map<String, long[]> tensors = new LinkedHashMap<>();
    /** Tensor parallelism: the split tensors' join axes, and the members whose flat vectors lie end to end. */
    private final Map<String, Integer> splitAxes = new HashMap<>();
    private final int tensorParallel;
    /** Elements of one member's flat vector, and of the whole (all members'). */
    private final long memberLength;
    private final long length;
    private final Map<String, List<Part>> parts = new HashMap<>();
    private final Map<String, INDArray> read = new HashMap<>();

    /** One file's range [from, from + length) of the flat vector of its kind. */
    private record Part(Manifest.Entry entry, long from, long length) {
    }

    CheckpointReader(Path dir, CheckpointStore.ManifestRead m) throws IOException {
        this.dir = dir;
        this.manifest = m.manifest();
        this.manifestSha256 = m.sha256();
        String text = null;
        for (Manifest.Entry e : manifest.files()) {
            if (!e.isArray()) {
                Path file = CheckpointStore.presentWithSize(dir, e);
                byte[] bytes = Files.readAllBytes(file);
                MessageDigest digest = CheckpointStore.sha256();
                digest.update(bytes);
                CheckpointStore.checkDigest(dir, e, digest);
                text = new String(bytes, StandardCharsets.UTF_8);
            }
        }
        if (text == null) {
            throw new CorruptCheckpointException(dir, Manifest.STATE_FILE, "not listed in the manifest");
        }
        this.state = text;
        if (manifest.format() == Manifest.FORMAT_SINGLE) {
            Map<String, Long> next = new HashMap<>();
            for (Manifest.Entry e : manifest.files()) {
                int slash = e.isArray() ? e.array().indexOf('/') : -1;
                if (slash < 0) {
                    continue;
                }
                String kind = e.array().substring(0, slash);
                long n = elements(e.shape());
                long from = next.getOrDefault(kind, 0L);
                next.put(kind, from + n);
                parts.computeIfAbsent(kind, k -> new ArrayList<>()).add(new Part(e, from, n));
                if (kind.equals("param")) {
                    tensors.put(e.array().substring(slash + 1), e.shape() == null ? new long[0] : e.shape());
                }
            }
        } else {
            if (manifest.tensors() == null || manifest.worldSize() == null || manifest.worldSize() < 1) {
                throw new CorruptCheckpointException(dir, Manifest.FILE, "no tensor layout or world size");
            }
            for (Manifest.Tensor t : manifest.tensors()) {
                if (t == null || t.name() == null || t.shape() == null || tensors.put(t.name(), t.shape()) != null) {
                    throw new CorruptCheckpointException(dir, Manifest.FILE, "bad or duplicate tensor in the layout");
                }
                if (t.splitAxis() != null) {
                    if (t.splitAxis() < 0 || t.splitAxis() >= t.shape().length) {
                        throw new CorruptCheckpointException(dir, Manifest.FILE, "tensor " + t.name()
                                + " is split along axis " + t.splitAxis() + " of " + t.shape().length);
                    }
                    splitAxes.put(t.name(), t.splitAxis());
                }
            }
            if (manifest.tensorParallel() != null && manifest.tensorParallel() < 1) {
                throw new CorruptCheckpointException(dir, Manifest.FILE, "tensorParallel " + manifest.tensorParallel());
            }
            for (Manifest.Entry e : manifest.files()) {
                if (e.isArray()) {
                    if (!CheckpointPaths.KINDS.contains(e.array()) || e.from() == null || e.from() < 0
                            || e.shape() == null || e.shape().length != 1 || !"FLOAT".equals(e.dtype())) {
                        throw new CorruptCheckpointException(dir, Manifest.FILE, "bad shard entry " + e.name());
                    }
                    parts.computeIfAbsent(e.array(), k -> new ArrayList<>()).add(new Part(e, e.from(), e.shape()[0]));
                }
            }
        }
        this.tensorParallel = manifest.tensorParallel() == null ? 1 : manifest.tensorParallel();
        if (tensorParallel == 1 && !splitAxes.isEmpty()) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "split tensors without tensor parallelism");
        }
        long member = 0;
        for (long[] shape : tensors.values()) {
            member += elements(shape);
        }
        this.memberLength = member;
        long total = member * tensorParallel;
        this.length = total;
        // every kind must tile [0, length) exactly: a missing, overlapping or stray range is a bad checkpoint
        for (Map.Entry<String, List<Part>> k : parts.entrySet()) {
            List<Part> list = k.getValue();
            list.sort(Comparator.comparingLong(Part::from));
            long at = 0;
            for (Part p : list) {
                if (p.from() != at) {
                    throw new CorruptCheckpointException(dir, Manifest.FILE, k.getKey() + " has a gap or an overlap at "
                            + at);
                }
                at += p.length();
            }
            if (at != total) {
                throw new CorruptCheckpointException(dir, Manifest.FILE, k.getKey() + " covers " + at + " of "
                        + total + " elements");
            }
        }
        if (!parts.containsKey("param")) {
            throw new CorruptCheckpointException(dir, Manifest.FILE, "no parameters");
        }
    }

    /**
     * Opens a checkpoint: its manifest (whose SHA-256 must be {@code manifestSha256} unless null) and state.json are
     * verified now, the array files when read.
     *
     * @throws CheckpointUnavailableException when the manifest or state.json is missing
     * @throws CorruptCheckpointException     for any other failed check
     */
    public static CheckpointReader open(Path dir, String manifestSha256) throws IOException {
        return new CheckpointReader(dir, CheckpointStore.readManifest(dir, manifestSha256));
    }

    public Path dir() {
        return dir;
    }

    public long step() {
        return manifest.step();
    }

    /** SHA-256 of the manifest as read (what a restore pins). */
    public String manifestSha256() {
        return manifestSha256;
    }

    /** The world size that wrote it (1 for a single-writer checkpoint). */
    public int worldSize() {
        return manifest.worldSize() == null ? 1 : manifest.worldSize();
    }

    /** The trainer's state (JSON). */
    public String state() {
        return state;
    }

    /** The flat layout: tensor names and shapes (one member's slices under tensor parallelism), in order. */
    public Map<String, long[]> tensors() {
        return java.util.Collections.unmodifiableMap(tensors);
    }

    /** How many tensor-parallel members wrote it (1: none): their flat vectors lie end to end. */
    public int tensorParallel() {
        return tensorParallel;
    }

    /** The whole model's tensor names and shapes, in order, whatever the split that wrote it. */
    public Map<String, long[]> wholeTensors() {
        Map<String, long[]> out = new LinkedHashMap<>();
        tensors.forEach((name, shape) -> {
            long[] whole = shape.clone();
            Integer axis = splitAxes.get(name);
            if (axis != null) {
                whole[axis] *= tensorParallel;
            }
            out.put(name, whole);
        });
        return out;
    }

    /**
     * One whole tensor of the flat vector {@code kind}, joined from the tensor-parallel members' slices (a tensor
     * every member holds whole is read from member 0's), each file verified when first read.
     */
    public INDArray readWhole(String kind, String name) throws IOException {
        long offset = 0;
        for (Map.Entry<String, long[]> t : tensors.entrySet()) {
            if (!t.getKey().equals(name)) {
                offset += elements(t.getValue());
                continue;
            }
            Integer axis = splitAxes.get(name);
            int members = axis == null ? 1 : tensorParallel;
            INDArray[] slices = new INDArray[members];
            for (int m = 0; m < members; m++) {
                slices[m] = newArray(t.getValue());
                long n = elements(t.getValue());
                if (n > 0) {
                    read(kind, m * memberLength + offset, slices[m].reshape(n));
                }
            }
            return members == 1 ? slices[0] : Nd4j.concat(axis, slices);
        }
        throw new IllegalArgumentException("no tensor " + name + " in " + dir);
    }

    /** Whether it holds Adam's moments (a checkpoint written by SGD-only code has none). */
    public boolean has(String kind) {
        return parts.containsKey(kind);
    }

    /**
     * Copies elements [from, from + dst.length()) of the flat vector {@code kind} into {@code dst} (a 1-D float
     * array or view), reading and verifying each file that overlaps the range the first time it is needed.
     */
    public void read(String kind, long from, INDArray dst) throws IOException {
        long to = from + dst.length();
        if (from < 0 || to > length || !parts.containsKey(kind)) {
            throw new IllegalArgumentException(kind + " [" + from + ", " + to + ") is not in this checkpoint's "
                    + length + " elements");
        }
        for (Part p : parts.get(kind)) {
            long a = Math.max(from, p.from());
            long b = Math.min(to, p.from() + p.length());
            if (a < b) {
                dst.get(NDArrayIndex.interval(a - from, b - from))
                        .assign(file(p).get(NDArrayIndex.interval(a - p.from(), b - p.from())));
            }
        }
    }

    /** Drops the file contents kept since they were read. */
    public void release() {
        read.clear();
    }

    /** The whole checkpoint as named whole tensors ({@code param/NAME}, {@code adam_m/NAME}, …) and its state. */
    public CheckpointContent content() throws IOException {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        for (String kind : CheckpointPaths.KINDS) {
            if (!has(kind)) {
                continue;
            }
            for (String name : tensors.keySet()) {
                arrays.put(kind + "/" + name, readWhole(kind, name));
            }
        }
        release();
        return new CheckpointContent(manifest.step(), arrays, state);
    }

    private static INDArray newArray(long[] shape) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return Nd4j.create(DataType.FLOAT, shape, 'c');
        }
    }

    private INDArray file(Part p) throws IOException {
        INDArray cached = read.get(p.entry().name());
        if (cached != null) {
            return cached;
        }
        Manifest.Entry e = p.entry();
        Path file = CheckpointStore.presentWithSize(dir, e);
        MessageDigest digest = CheckpointStore.sha256();
        INDArray array;
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            array = ArrayFormat.read(in, dir, e, digest);
        } catch (EOFException ex) {
            throw new CorruptCheckpointException(dir, e.name(), "ends early");
        }
        CheckpointStore.checkDigest(dir, e, digest);
        if (array.dataType() != DataType.FLOAT) {
            throw new CorruptCheckpointException(dir, e.name(), "dtype " + array.dataType() + ", expected FLOAT");
        }
        INDArray flat = array.reshape(p.length());
        read.put(e.name(), flat);
        return flat;
    }

    private static long elements(long[] shape) {
        return shape == null ? 1 : Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    }
}
