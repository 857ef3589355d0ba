package dev.steadyrun.orchestrator.run;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.data.jpa.repository.JpaRepository;

public interface RunEventRepository extends JpaRepository<RunEvent, Long> {

    List<RunEvent> findByRunIdOrderById(UUID runId);

    Optional<RunEvent> findTopByRunIdOrderByIdDesc(UUID runId);
}
