package dev.steadyrun.orchestrator.alert;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.springframework.stereotype.Component;

/**
 * Where webhooks may be sent. A destination is denied when any address its host resolves to is in
 * {@code denied-cidrs}, or is private (loopback, link-local, RFC 1918, carrier-grade NAT, unique-local, multicast,
 * unspecified, and the IPv6 transition ranges that carry an IPv4 address inside: NAT64, 6to4, Teredo,
 * IPv4-compatible) and not in {@code allowed-private-cidrs}: a webhook must not become a way to reach the
 * orchestrator's own network. Checked when a subscription is created and again before every attempt (DNS may
 * have changed since); the attempt then connects to the address checked here, never resolving the host again.
 */
@Component
class DestinationPolicy {

    private static final List<Cidr> PRIVATE = Stream.of("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
            "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128",
            "fc00::/7", "fe80::/10", "ff00::/8",
            // an IPv4 address inside an IPv6 one: a gateway would forward to it, private or not
            "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96").map(Cidr::parse).toList();

    private final List<Cidr> allowedPrivate;
    private final List<Cidr> denied;

    DestinationPolicy(AlertProperties props) {
        this.allowedPrivate = parseAll("steadyrun.alerts.allowed-private-cidrs", props.allowedPrivateCidrs());
        this.denied = parseAll("steadyrun.alerts.denied-cidrs", props.deniedCidrs());
    }

    private static List<Cidr> parseAll(String property, List<String> ranges) {
        try {
            return ranges.stream().map(Cidr::parse).toList();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(property + ": " + e.getMessage(), e);
        }
    }

    /** The outcome of a check: the address to connect to, or why not to (then {@code address} is null). */
    record Destination(InetAddress address, String denial) {
    }

    /** Why the URL's host may not be called, or empty when it may. Resolves the host (a DNS lookup). */
    Optional<String> denial(URI url) {
        return Optional.ofNullable(check(url).denial());
    }

    /**
     * Resolves the host once; every address it resolves to must pass, and the first is the one to connect to (so a
     * name cannot pass with one address and be reached at another).
     */
    Destination check(URI url) {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(url.getHost());
        } catch (UnknownHostException e) {
            return new Destination(null, "host '" + url.getHost() + "' does not resolve");
        }
        return denial(addresses).map(reason -> new Destination(null, reason))
                .orElseGet(() -> new Destination(addresses[0], null));
    }

    private Optional<String> denial(InetAddress[] addresses) {
        for (InetAddress a : addresses) {
            String ip = a.getHostAddress();
            Optional<Cidr> deniedBy = denied.stream().filter(c -> c.contains(a)).findFirst();
            if (deniedBy.isPresent()) {
                return Optional.of("destination " + ip + " is in denied range " + deniedBy.get());
            }
            boolean isPrivate = PRIVATE.stream().anyMatch(c -> c.contains(a));
            if (isPrivate && allowedPrivate.stream().noneMatch(c -> c.contains(a))) {
                return Optional.of("destination " + ip + " is a private address; allow its range in "
                        + "steadyrun.alerts.allowed-private-cidrs to use it");
            }
        }
        return Optional.empty();
    }
}
