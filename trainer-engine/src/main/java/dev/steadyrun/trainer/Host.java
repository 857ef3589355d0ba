package dev.steadyrun.trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.nd4j.linalg.factory.Nd4j;

import dev.steadyrun.trainer.data.DemoData;

/** What the trainer takes from the machine it runs on: the dataset directory, ND4J's threads, its own RSS. */
final class Host {

    private Host() {
    }

    /** {@code europarl}: the shipped sample, prepared once under $STEADYRUN_CACHE (default ~/.cache/steadyrun). */
    static Path dataset(String data) {
        if (!data.equals("europarl")) {
            Path dir = Path.of(data);
            if (!Files.isDirectory(dir)) {
                throw new TrainConfig.InvalidConfigException("data: no dataset directory " + dir
                        + " (run `prepare` first, or use data=europarl)");
            }
            return dir;
        }
        String cache = System.getenv("STEADYRUN_CACHE");
        Path root = cache != null ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "steadyrun");
        return DemoData.ensurePrepared(root.resolve("europarl"));
    }

    /**
     * Which ND4J backend, device and memory this trainer runs on, for its log at start: the CPU backend by default,
     * the CUDA one in a build with {@code -Pcuda} (docs/trainer.md). The model code does not care which.
     */
    static String backend() {
        Properties env = Nd4j.getExecutioner().getEnvironmentInformation();
        String backend = String.valueOf(env.getOrDefault("backend", Nd4j.getBackend().getClass().getSimpleName()));
        Object devices = env.get("cuda.devicesInformation");
        if (devices instanceof List<?> list && !list.isEmpty()) {
            StringBuilder out = new StringBuilder(backend + " on " + list.size() + " visible GPU(s) (CUDA_VISIBLE_DEVICES="
                    + System.getenv().getOrDefault("CUDA_VISIBLE_DEVICES", "unset") + ")");
            for (Object d : list) {
                if (d instanceof Map<?, ?> m) {
                    out.append("; ").append(m.get("cuda.deviceName")).append(": ")
                            .append(mib(m.get("cuda.totalMemory"))).append(" MiB total, ")
                            .append(mib(m.get("cuda.freeMemory"))).append(" MiB free");
                }
            }
            return out.toString();
        }
        Runtime rt = Runtime.getRuntime();
        return backend + " on the CPU: " + env.getOrDefault("cores", rt.availableProcessors()) + " cores, "
                + Nd4j.getEnvironment().maxThreads() + " ND4J threads (OMP_NUM_THREADS="
                + System.getenv().getOrDefault("OMP_NUM_THREADS", "unset") + "), JVM heap max "
                + rt.maxMemory() / (1 << 20) + " MiB, off-heap max " + mib(env.get("memory.available")) + " MiB";
    }

    private static String mib(Object bytes) {
        return bytes instanceof Number n ? Long.toString(n.longValue() / (1 << 20)) : "?";
    }

    static void applyThreads(int threads) {
        if (threads > 0) {
            Nd4j.getEnvironment().setMaxThreads(threads);
            Nd4j.getEnvironment().setMaxMasterThreads(threads);
            Nd4j.factory().blas().setMaxThreads(threads);
        }
    }
}
