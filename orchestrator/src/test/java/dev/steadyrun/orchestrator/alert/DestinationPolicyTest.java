package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

class DestinationPolicyTest {

    private static DestinationPolicy policy(List<String> allowed, List<String> denied) {
        return new DestinationPolicy(AlertTestProperties.with(allowed, denied, DataSize.ofKilobytes(64)));
    }

    private static boolean allowed(DestinationPolicy p, String url) {
        return p.denial(URI.create(url)).isEmpty();
    }

    @Test
    void privateRangesAreDeniedByDefault() {
        DestinationPolicy p = policy(List.of(), List.of());
        for (String url : List.of("http://10.1.2.3/h", "http://172.20.0.1/h", "http://192.168.1.1/h",
                "http://127.0.0.1/h", "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/h",
                "http://0.0.0.0/h", "http://[::1]/h", "http://[fd12::1]/h", "http://[fe80::1]/h",
                "http://[::ffff:10.0.0.1]/h")) {
            assertThat(allowed(p, url)).as(url).isFalse();
        }
        assertThat(allowed(p, "https://8.8.8.8/h")).isTrue();
        assertThat(allowed(p, "https://172.32.0.1/h")).as("just outside 172.16/12").isTrue();
        assertThat(p.denial(URI.create("http://10.1.2.3/h")).orElseThrow())
                .contains("10.1.2.3").contains("allowed-private-cidrs");
    }

    @Test
    void ipv6RangesCarryingAnIpv4AddressAreDenied() {
        DestinationPolicy p = policy(List.of(), List.of());
        for (String url : List.of("http://[64:ff9b::a9fe:a9fe]/h", // NAT64 of 169.254.169.254
                "http://[64:ff9b:1::a00:1]/h", // local-use NAT64
                "http://[2002:a00:1::1]/h", // 6to4 of 10.0.0.1
                "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/h", // Teredo
                "http://[::7f00:1]/h")) { // IPv4-compatible 127.0.0.1
            assertThat(allowed(p, url)).as(url).isFalse();
        }
        assertThat(allowed(p, "https://[2606:4700:4700::1111]/h")).isTrue();
    }

    @Test
    void checkHandsOverTheAddressItChecked() {
        DestinationPolicy p = policy(List.of("127.0.0.0/8"), List.of());
        DestinationPolicy.Destination d = p.check(URI.create("http://127.0.0.2:9/h"));
        assertThat(d.denial()).isNull();
        assertThat(d.address().getHostAddress()).isEqualTo("127.0.0.2");
        assertThat(p.check(URI.create("http://10.0.0.1/h")).address()).isNull();
    }

    @Test
    void allowListOpensPrivateRangesAndDenyListWins() {
        DestinationPolicy p = policy(List.of("10.20.0.0/16", "fd00::/8"), List.of("10.20.30.0/24", "8.8.8.8"));
        assertThat(allowed(p, "http://10.20.1.1/h")).isTrue();
        assertThat(allowed(p, "http://[fd12::1]/h")).isTrue();
        assertThat(allowed(p, "http://10.21.0.1/h")).isFalse();
        assertThat(allowed(p, "http://10.20.30.4/h")).isFalse();
        assertThat(allowed(p, "https://8.8.8.8/h")).isFalse();
        assertThat(allowed(p, "https://8.8.4.4/h")).isTrue();
    }

    @Test
    void badRangesInConfigurationFailNamingTheProperty() {
        assertThatThrownBy(() -> policy(List.of("10.0.0.0/33"), List.of()))
                .hasMessageContaining("steadyrun.alerts.allowed-private-cidrs");
        assertThatThrownBy(() -> policy(List.of(), List.of("example.com/8")))
                .hasMessageContaining("steadyrun.alerts.denied-cidrs");
    }
}
