package dev.steadyrun.orchestrator.node;

import java.util.List;
import java.util.Optional;

import org.springframework.data.jpa.repository.JpaRepository;

interface FleetIncidentRepository extends JpaRepository<FleetIncident, Long> {

    Optional<FleetIncident> findFirstByClosedAtIsNullOrderByIdDesc();

    List<FleetIncident> findTop50ByOrderByIdDesc();
}
