package dev.steadyrun.collectives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.junit.jupiter.api.Test;

class WireTest {

    private static Wire.Hello roundTrip(String runId, String host) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            new Wire.Hello(runId, 3, 1, 2, host, 4242, new byte[RingAuth.NONCE_BYTES]).write(out, Wire.HELLO);
        }
        return Wire.Hello.read(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())), Wire.HELLO);
    }

    @Test
    void aHelloNamesARunAndAHostPlainly() throws IOException {
        Wire.Hello hello = roundTrip("7f1c2a5e-0d43-4d6e-9a51-3a8f0c1b2d3e", "fe80::1%eth0");
        assertThat(hello.host()).isEqualTo("fe80::1%eth0");
        assertThat(roundTrip("run-test", "gpu-7.rack-2.example").rank()).isEqualTo(1);
    }

    @Test
    void aHelloThatWouldForgeALogLineOrADialIsRefusedWithoutEchoingIt() {
        // rank 0 logs what a refused hello claims and dials the host it names: neither may carry a line break
        assertThatThrownBy(() -> roundTrip("run\n[main] INFO forged", "10.0.0.1"))
                .isInstanceOf(IOException.class).hasMessageNotContaining("forged");
        assertThatThrownBy(() -> roundTrip("run-test", "evil host\r\n"))
                .isInstanceOf(IOException.class).hasMessageNotContaining("evil");
        assertThatThrownBy(() -> roundTrip("", "10.0.0.1")).isInstanceOf(IOException.class);
    }
}
