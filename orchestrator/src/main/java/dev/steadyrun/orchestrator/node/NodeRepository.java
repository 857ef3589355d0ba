package dev.steadyrun.orchestrator.node;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;
import org.springframework.data.repository.query.Param;
import org.springframework.transaction.annotation.Transactional;

interface NodeRepository extends JpaRepository<Node, UUID>, JpaSpecificationExecutor<Node> {

    Optional<Node> findByName(String name);

    List<Node> findByStateOrderByName(NodeState state);

    /** Compare-and-set of the state: 0 rows when the node was no longer in {@code from}. */
    @Transactional
    @Modifying(flushAutomatically = true, clearAutomatically = true)
    @Query("update Node n set n.state = :to, n.stateReason = :reason, n.stateChangedAt = :at"
            + " where n.id = :id and n.state = :from")
    int transition(@Param("id") UUID id, @Param("from") NodeState from, @Param("to") NodeState to,
                   @Param("reason") String reason, @Param("at") Instant at);
}
