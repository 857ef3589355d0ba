package dev.steadyrun.orchestrator.alert;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class StandardWebhooksTest {

    @Test
    void signsLikeTheStandardWebhooksReferenceExample() {
        // the example of the Standard Webhooks specification and its reference libraries
        String signature = StandardWebhooks.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330L, "{\"test\": 2432232314}");
        assertThat(signature).isEqualTo("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    @Test
    void secretsAreFreshAndCarryTheirPrefix() {
        String a = StandardWebhooks.newSecret();
        assertThat(a).startsWith("whsec_").hasSize("whsec_".length() + 32);
        assertThat(StandardWebhooks.newSecret()).isNotEqualTo(a);
    }
}
