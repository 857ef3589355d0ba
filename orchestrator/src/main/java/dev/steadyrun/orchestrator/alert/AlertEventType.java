package dev.steadyrun.orchestrator.alert;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What a webhook can be told about. The wire name is what subscriptions list and what the {@code type} field of a
 * delivery says. Node and run transitions are published by the triggers of {@code V20__alerts.sql} (keep the names
 * there in step); the others through {@link AlertOutbox#publish}.
 */
public enum AlertEventType {
    INCIDENT_OPENED("incident.opened"),
    INCIDENT_RESOLVED("incident.resolved"),
    RUN_STATE_CHANGED("run.state_changed"),
    NODE_FAILED("node.failed"),
    NODE_CORDONED("node.cordoned"),
    NODE_SWAPPED("node.swapped"),
    HUMAN_NEEDED("human.needed"),
    RESTART_BUDGET_EXHAUSTED("run.restart_budget_exhausted"),
    /** Sent by {@code POST /api/v1/webhooks/{id}/test} to that subscription only; not subscribable. */
    TEST("webhook.test");

    private final String wireName;

    AlertEventType(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static Optional<AlertEventType> fromWireName(String name) {
        return Arrays.stream(values()).filter(t -> t.wireName.equals(name)).findFirst();
    }

    /** The names a subscription may list. */
    public static List<String> subscribable() {
        return Arrays.stream(values()).filter(t -> t != TEST).map(AlertEventType::wireName).toList();
    }
}
