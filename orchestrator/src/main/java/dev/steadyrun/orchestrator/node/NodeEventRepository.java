package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.UUID;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;
import org.springframework.data.repository.query.Param;
import org.springframework.transaction.annotation.Transactional;

interface NodeEventRepository extends JpaRepository<NodeEvent, Long> {

    Page<NodeEvent> findByNodeIdOrderByIdDesc(UUID nodeId, Pageable page);

    @Transactional
    @Modifying
    @Query("delete from NodeEvent e where e.at < :cutoff")
    int deleteOlderThan(@Param("cutoff") Instant cutoff);
}
