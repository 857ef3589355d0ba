package dev.steadyrun.trainer;

import java.nio.file.Files;
import java.nio.file.Path;

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

    static void applyThreads(int threads) {
        if (threads > 0) {
            Nd4j.getEnvironment().setMaxThreads(threads);
            Nd4j.getEnvironment().setMaxMasterThreads(threads);
            Nd4j.factory().blas().setMaxThreads(threads);
        }
    }
}
