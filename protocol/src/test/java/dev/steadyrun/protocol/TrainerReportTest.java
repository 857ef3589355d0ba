package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import tools.jackson.databind.json.JsonMapper;

class TrainerReportTest {

    private final JsonMapper json = JsonMapper.builder().build();

    @Test
    void droppedStepsRoundTripsAndDefaultsToZeroWhenAbsent() {
        var report = new TrainerReport(UUID.randomUUID(), 1, 7, List.of(),
                List.of(new CheckpointWritten(100, 5, "/c", 1.0, 2.0, "ab", 9)), 42L);
        assertThat(json.readValue(json.writeValueAsString(report), TrainerReport.class)).isEqualTo(report);

        String withoutCount = "{\"runId\":\"" + report.runId() + "\",\"rank\":1,\"generation\":7,"
                + "\"steps\":[],\"checkpoints\":[]}";
        assertThat(json.readValue(withoutCount, TrainerReport.class).droppedSteps()).isZero();
        assertThat(new TrainerReport(report.runId(), 1, 7, List.of(), List.of()).droppedSteps()).isZero();
    }
}
