package dev.steadyrun.agent.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Separate hosts made of Linux network namespaces ({@code ip netns}, needs root), for end-to-end tests across real
 * network boundaries. The root namespace (where PostgreSQL and the orchestrators run) has a control bridge with
 * address {@code 10.213.X.1}; each host namespace has two veth links: {@code ctl} on the control bridge
 * ({@code 10.213.X.1i}) and {@code data} on a second bridge that carries only the hosts' traffic to each other
 * ({@code 10.214.X.1i}, no address in the root namespace). So a host can be cut off from everything (both links down)
 * or from its peers only (data link down, control up). A link is cut on its root-namespace end: the host's end loses
 * its carrier and its packets go nowhere, as with a pulled cable (no reset, no ICMP).
 *
 * <p>Every name carries the test JVM's pid ({@code srn<pid>...}), so runs on one machine do not collide, and names
 * whose pid is no longer running are leftovers of a crashed run, removed by {@link #create}.
 */
public final class NetworkNamespaces implements AutoCloseable {

    /** Set (to 1) where the capability is required: then a machine without it fails the test instead of skipping. */
    public static final String REQUIRE_ENV = "STEADYRUN_REQUIRE_NETNS";
    private static final String PREFIX = "srn";
    private static final Pattern OURS = Pattern.compile(PREFIX + "(\\d+)[a-z]\\S*");

    /** One host: its namespace and its addresses on the two networks. */
    public record Host(int index, String namespace, String controlAddress, String dataAddress) {
    }

    private final String tag;
    private final String subnet;
    private final List<Host> hosts = new ArrayList<>();

    private NetworkNamespaces(String tag, int subnet) {
        this.tag = tag;
        this.subnet = Integer.toString(subnet);
    }

    /**
     * Why namespaces cannot be made here, or null when they can: not root, no {@code ip}, or the kernel refuses.
     * Tries for real (a namespace made and removed), since a container may be root without the capability.
     */
    public static String unavailableBecause() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "not root (user " + System.getProperty("user.name") + ")";
        }
        if (!Files.isExecutable(Path.of("/usr/sbin/ip")) && !Files.isExecutable(Path.of("/sbin/ip"))
                && !Files.isExecutable(Path.of("/usr/bin/ip"))) {
            return "no 'ip' command (iproute2)";
        }
        String probe = PREFIX + ProcessHandle.current().pid() + "probe";
        try {
            ip("netns", "add", probe);
            ip("netns", "del", probe);
            return null;
        } catch (IOException e) {
            return "ip netns add failed: " + e.getMessage();
        }
    }

    /** {@code count} hosts, each with its control and data link up. */
    public static NetworkNamespaces create(int count) throws IOException {
        removeLeftovers();
        long pid = ProcessHandle.current().pid();
        NetworkNamespaces net = new NetworkNamespaces(PREFIX + pid, (int) (pid % 250) + 1);
        try {
            net.build(count);
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    private void build(int count) throws IOException {
        for (String bridge : List.of(controlBridge(), dataBridge())) {
            ip("link", "add", bridge, "type", "bridge");
            ip("link", "set", bridge, "up");
        }
        ip("addr", "add", controlGateway() + "/24", "dev", controlBridge());
        for (int i = 1; i <= count; i++) {
            Host h = new Host(i, tag + "h" + i, "10.213." + subnet + "." + (10 + i), "10.214." + subnet + "." + (10 + i));
            hosts.add(h);
            ip("netns", "add", h.namespace());
            ip("-n", h.namespace(), "link", "set", "lo", "up");
            link(h, "ctl", controlEnd(i), controlBridge(), h.controlAddress());
            link(h, "data", dataEnd(i), dataBridge(), h.dataAddress());
        }
    }

    private static void link(Host h, String inside, String outside, String bridge, String address) throws IOException {
        ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", h.namespace());
        ip("link", "set", outside, "master", bridge, "up");
        ip("-n", h.namespace(), "addr", "add", address + "/24", "dev", inside);
        ip("-n", h.namespace(), "link", "set", inside, "up");
    }

    public List<Host> hosts() {
        return List.copyOf(hosts);
    }

    public Host host(int index) {
        return hosts.get(index - 1);
    }

    /** The orchestrators' address as the hosts reach it (the control bridge in the root namespace). */
    public String controlGateway() {
        return "10.213." + subnet + ".1";
    }

    /** The command line that runs {@code argv} inside the host's namespace. */
    public List<String> inside(Host h, List<String> argv) {
        List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", h.namespace()));
        out.addAll(argv);
        return out;
    }

    /** Cuts the host off from its peers only: its data link goes down, its control link stays up. */
    public void cutData(Host h) throws IOException {
        ip("link", "set", dataEnd(h.index()), "down");
    }

    /** Cuts the host off from the network: both links down. */
    public void cutAll(Host h) throws IOException {
        ip("link", "set", controlEnd(h.index()), "down");
        cutData(h);
    }

    /** Both links of the host up again. */
    public void reconnect(Host h) throws IOException {
        ip("link", "set", controlEnd(h.index()), "up");
        ip("link", "set", dataEnd(h.index()), "up");
    }

    /** The net namespace inode a process is in (two processes on one host share it). */
    public static String namespaceOf(long pid) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", "net")).toString();
    }

    /**
     * Remote IPv4 addresses of the ESTABLISHED TCP connections in the process's network namespace (its own tables,
     * {@code /proc/<pid>/net/tcp} and {@code tcp6}: Java's dual-stack sockets show IPv4 peers there as
     * {@code ::ffff:a.b.c.d}).
     */
    public static List<String> establishedPeers(long pid) throws IOException {
        List<String> out = new ArrayList<>();
        for (String table : List.of("tcp", "tcp6")) {
            List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "net", table));
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                String remote = f[2].substring(0, f[2].indexOf(':'));
                if (!f[3].equals("01")) { // TCP_ESTABLISHED
                    continue;
                }
                if (remote.length() == 8) {
                    out.add(ipv4(remote));
                } else if (remote.startsWith("0000000000000000FFFF0000")) {
                    out.add(ipv4(remote.substring(24)));
                }
            }
        }
        return out;
    }

    /** An address as the kernel prints it: 8 hex digits, the bytes in little-endian order. */
    private static String ipv4(String hex) {
        return Integer.parseInt(hex.substring(6, 8), 16) + "." + Integer.parseInt(hex.substring(4, 6), 16) + "."
                + Integer.parseInt(hex.substring(2, 4), 16) + "." + Integer.parseInt(hex.substring(0, 2), 16);
    }

    @Override
    public void close() {
        for (Host h : hosts) {
            // the outer ends first: a namespace outlives its deletion while a process still runs in it
            quietly("link", "del", controlEnd(h.index()));
            quietly("link", "del", dataEnd(h.index()));
            quietly("netns", "del", h.namespace());
        }
        quietly("link", "del", controlBridge());
        quietly("link", "del", dataBridge());
    }

    private String controlBridge() {
        return tag + "bc";
    }

    private String dataBridge() {
        return tag + "bd";
    }

    private String controlEnd(int i) {
        return tag + "c" + i;
    }

    private String dataEnd(int i) {
        return tag + "d" + i;
    }

    /** Namespaces and links of earlier runs whose JVM is gone (a crash, a kill -9 of the build). */
    private static void removeLeftovers() throws IOException {
        for (String ns : output("netns", "list").lines().map(l -> l.split("\\s+")[0]).toList()) {
            if (stale(ns)) {
                quietly("netns", "del", ns);
            }
        }
        for (String line : output("-o", "link", "show").lines().toList()) {
            String[] f = line.split(":\\s+");
            if (f.length > 1) {
                String name = f[1].split("@")[0];
                if (stale(name)) {
                    quietly("link", "del", name);
                }
            }
        }
    }

    private static boolean stale(String name) {
        Matcher m = OURS.matcher(name);
        return m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).map(p -> !p.isAlive()).orElse(true);
    }

    private static void quietly(String... args) {
        try {
            ip(args);
        } catch (IOException e) {
            System.out.println("cleanup: " + e.getMessage());
        }
    }

    private static void ip(String... args) throws IOException {
        output(args);
    }

    private static String output(String... args) throws IOException {
        List<String> argv = new ArrayList<>(List.of("ip"));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", argv) + " exited " + p.exitValue() + ": " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", argv), e);
        }
        return out;
    }
}
