package dev.steadyrun.orchestrator.alert;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * A webhook delivery's life: PENDING until the receiver takes it (DELIVERED) or retries run out (DEAD); an operator's
 * redelivery makes either PENDING again. The column {@code webhook_delivery.state} holds the names.
 */
enum DeliveryState {
    PENDING, DELIVERED, DEAD;

    private static final Map<DeliveryState, Set<DeliveryState>> TRANSITIONS = new EnumMap<>(DeliveryState.class);

    static {
        TRANSITIONS.put(PENDING, EnumSet.of(DELIVERED, DEAD));
        TRANSITIONS.put(DELIVERED, EnumSet.of(PENDING));
        TRANSITIONS.put(DEAD, EnumSet.of(PENDING));
    }

    boolean canBecome(DeliveryState next) {
        return TRANSITIONS.get(this).contains(next);
    }
}
