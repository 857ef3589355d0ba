package dev.steadyrun.orchestrator.alert;

import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * Keeps the outbox from growing forever: every node failure and run transition is an event, subscribed or not.
 * Deletes events older than {@code retention} with their deliveries and attempt log; an event with a delivery still
 * pending is kept whatever its age (it has not been delivered yet).
 */
@Component
class AlertRetention {

    private final JdbcTemplate jdbc;
    private final Clock clock;
    private final Duration retention;

    @Autowired
    AlertRetention(JdbcTemplate jdbc, Clock clock, AlertProperties props) {
        this(jdbc, clock, props.retention());
    }

    /** With another retention than configured (tests). */
    AlertRetention(JdbcTemplate jdbc, Clock clock, Duration retention) {
        this.jdbc = jdbc;
        this.clock = clock;
        this.retention = retention;
    }

    /** Returns the number of events deleted. */
    int purge() {
        return jdbc.update("""
                delete from alert_event e where e.occurred_at < ?
                  and not exists (select 1 from webhook_delivery d where d.event_id = e.id and d.state = 'PENDING')""",
                Timestamp.from(clock.instant().minus(retention)));
    }
}
