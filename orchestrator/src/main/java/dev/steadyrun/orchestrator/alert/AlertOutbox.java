package dev.steadyrun.orchestrator.alert;

import java.sql.Timestamp;
import java.time.Clock;
import java.util.Map;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

import tools.jackson.databind.ObjectMapper;

/**
 * The transactional outbox for alerts. {@link #publish} must run inside the transaction of the state change it
 * reports (it refuses to run without one): the event then exists if and only if the change committed, and the
 * dispatcher delivers it later, surviving restarts. Node and run transitions need no call: the database triggers of
 * {@code V20__alerts.sql} publish them from {@code node_event} and {@code run_event}.
 */
@Component
public class AlertOutbox {

    private final JdbcTemplate jdbc;
    private final ObjectMapper json;
    private final Clock clock;

    AlertOutbox(JdbcTemplate jdbc, ObjectMapper json, Clock clock) {
        this.jdbc = jdbc;
        this.json = json;
        this.clock = clock;
    }

    /**
     * @param orderingKey events with the same key reach each subscriber in publication order (use the run id, or
     *                    the node id for node-only events); null for no ordering
     * @param data        the event's fields (JSON-serializable); put a human sentence in {@code summary} for Slack
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public void publish(AlertEventType type, String orderingKey, Map<String, ?> data) {
        if (type == AlertEventType.TEST) {
            throw new IllegalArgumentException("test events are sent through the webhook API");
        }
        jdbc.update("insert into alert_event (type, ordering_key, occurred_at, data) values (?, ?, ?, ?::jsonb)",
                type.wireName(), orderingKey, Timestamp.from(clock.instant()), json.writeValueAsString(data));
    }
}
