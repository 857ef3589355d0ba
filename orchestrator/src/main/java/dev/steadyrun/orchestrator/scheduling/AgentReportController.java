package dev.steadyrun.orchestrator.scheduling;

import java.util.UUID;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.protocol.TrainerReport;

/** Agents forward their trainer's lines here, authenticated with the node credential like the heartbeat. */
@RestController
class AgentReportController {

    private final ReportService reports;

    AgentReportController(ReportService reports) {
        this.reports = reports;
    }

    @PostMapping("/api/v1/agents/{nodeId}/reports")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void report(@PathVariable UUID nodeId, @RequestBody TrainerReport report) {
        reports.accept(nodeId, report);
    }
}
