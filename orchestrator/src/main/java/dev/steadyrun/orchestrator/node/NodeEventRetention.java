package dev.steadyrun.orchestrator.node;

import java.time.Instant;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Deletes node events older than {@code steadyrun.fleet.event-retention}; run by the Quartz retention job. */
@Service
public class NodeEventRetention {

    private static final Logger log = LoggerFactory.getLogger(NodeEventRetention.class);

    private final NodeEventRepository events;
    private final FleetProperties props;

    NodeEventRetention(NodeEventRepository events, FleetProperties props) {
        this.events = events;
        this.props = props;
    }

    @Transactional
    public int sweep(Instant now) {
        int deleted = events.deleteOlderThan(now.minus(props.eventRetention()));
        if (deleted > 0) {
            log.info("Deleted {} node events older than {}", deleted, props.eventRetention());
        }
        return deleted;
    }
}
