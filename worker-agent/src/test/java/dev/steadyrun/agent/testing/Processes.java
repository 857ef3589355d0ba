package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/** Process facts straight from /proc, for tests that must see whether a process really is gone. */
public final class Processes {

    private Processes() {
    }

    /** Exists and is not a zombie (a zombie has exited; only its parent has not collected the code yet). */
    public static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    public static String commandLine(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"))).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    /** Pids of every running process whose command line contains the marker. */
    public static List<Long> withCommandLineContaining(String marker) {
        return ProcessHandle.allProcesses().map(ProcessHandle::pid)
                .filter(pid -> pid != ProcessHandle.current().pid())
                .filter(Processes::running)
                .filter(pid -> commandLine(pid).contains(marker))
                .collect(Collectors.toList());
    }

    /** Sends a signal with the shell's built-in {@code kill} (no procps needed). */
    public static void kill(String signal, long pid) throws IOException, InterruptedException {
        int rc = new ProcessBuilder("/bin/sh", "-c", "kill -" + signal + " " + pid).inheritIO().start().waitFor();
        if (rc != 0) {
            throw new IOException("kill -" + signal + " " + pid + " exited " + rc);
        }
    }

    /** This JVM's own {@code java}, for the children the tests start. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * Kills {@code processes} and waits for them, then anything still running whose command line names
     * {@code marker} (a test's own folder: the trainers a failed story left behind).
     */
    public static void stopAll(Collection<Process> processes, Path marker) throws InterruptedException {
        processes.forEach(Process::destroyForcibly);
        for (Process p : processes) {
            p.waitFor();
        }
        if (marker != null) {
            withCommandLineContaining(marker.toString())
                    .forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        }
    }
}
