package dev.steadyrun.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher script on the shaded jar, as a user installs them: reached through a symlink, run as a process
 * whose exit status is the CLI's exit code. Runs after {@code package} (failsafe), on cli/target/steadyrun.jar.
 */
class LauncherIT {

    @TempDir
    Path home;

    private record Run(int exit, String out) {
    }

    private Run steadyrun(Map<String, String> env, String... args) throws IOException, InterruptedException {
        Path bin = Files.createDirectories(home.resolve("bin"));
        Path link = bin.resolve("steadyrun");
        if (!Files.exists(link)) {
            Files.createSymbolicLink(link, Path.of("steadyrun").toAbsolutePath());
        }
        List<String> argv = new ArrayList<>(List.of(link.toString()));
        argv.addAll(List.of(args));
        return run(argv, env);
    }

    private Run run(List<String> argv, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("STEADYRUN_"));
        pb.environment().put("HOME", home.toString());
        pb.environment().put("PATH", home.resolve("bin") + ":" + System.getenv("PATH"));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out);
    }

    @Test
    void theScriptRunsTheJarThroughASymlinkAndExitsWithTheCliCodes() throws Exception {
        Run version = steadyrun(Map.of(), "--version");
        assertThat(version.exit()).as(version.out()).isZero();
        assertThat(version.out()).startsWith("steadyrun 0.1.0");

        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Run unreachable = steadyrun(Map.of(Env.URL, "http://127.0.0.1:" + closed), "node", "list");
        assertThat(unreachable.exit()).as(unreachable.out()).isEqualTo(Steadyrun.UNREACHABLE);
        assertThat(unreachable.out()).contains("cannot reach");

        Run usage = steadyrun(Map.of(), "run", "list", "-o", "xml");
        assertThat(usage.exit()).as(usage.out()).isEqualTo(Steadyrun.USAGE);
        Run notLoggedIn = steadyrun(Map.of(), "run", "list");
        assertThat(notLoggedIn.exit()).as(notLoggedIn.out()).isEqualTo(Steadyrun.USAGE);
    }

    @Test
    void bashLoadsTheCompletionScript() throws Exception {
        steadyrun(Map.of(), "--version"); // puts the link on the PATH
        Run loaded = run(List.of("bash", "-c", "source <(steadyrun completion bash) && complete -p steadyrun"), Map.of());
        assertThat(loaded.exit()).as(loaded.out()).isZero();
        assertThat(loaded.out()).contains("steadyrun");
    }
}
