package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;

import org.junit.jupiter.api.Test;

class RingSecretTest {

    @Test
    void theEnvironmentsValueIsReadStrippedAndAbsentIsNull() {
        RingSecret drawn = RingSecret.random();
        assertThat(drawn.bytes()).hasSize(RingSecret.BYTES);
        assertThat(RingSecret.fromEnvironment(" " + drawn.value() + "\n")).isEqualTo(drawn);
        assertThat(RingSecret.fromEnvironment(null)).isNull();
        assertThat(RingSecret.fromEnvironment("  ")).isNull();
    }

    @Test
    void aMalformedSecretNamesTheVariableAndNeverShowsTheValue() {
        String tooShort = Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[RingSecret.MIN_BYTES - 1]);
        for (String bad : new String[] {"not base64url!", tooShort}) {
            assertThatThrownBy(() -> RingSecret.fromEnvironment(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(RingSecret.ENV + ": ")
                    .hasMessageNotContaining(bad);
        }
        assertThat(RingSecret.random().toString()).isEqualTo("RingSecret[hidden]");
    }
}
