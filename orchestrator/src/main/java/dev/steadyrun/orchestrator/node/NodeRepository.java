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

    /** Locks the node's row for a delete: a placement of it (its foreign key) waits until the delete is done. */
    @Query(value = "select 1 from node where id = :id and deleted_at is null for update", nativeQuery = true)
    List<Integer> lockForDelete(@Param("id") UUID id);

    /** The runs that are not over in which the node holds a rank or a spare seat. */
    @Query(value = "select distinct cast(p.run_id as varchar) from placement p join run r on r.id = p.run_id"
            + " where p.node_id = :id and p.released_at is null"
            + " and r.state not in ('CANCELLED', 'SUCCEEDED', 'FAILED')", nativeQuery = true)
    List<String> liveRunsOf(@Param("id") UUID id);

    /** Deletes a node that never worked for a run (its labels and events go with it); 0 when it has history. */
    @Modifying
    @Query(value = "delete from node n where n.id = :id"
            + " and not exists (select 1 from placement p where p.node_id = n.id)"
            + " and not exists (select 1 from incident i where i.node_id = n.id or i.swapped_in_node_id = n.id)",
            nativeQuery = true)
    int deleteIfNoHistory(@Param("id") UUID id);

    /** Keeps a node with run history as a tombstone: invisible to the fleet, its name free again. */
    @Modifying
    @Query(value = "update node set deleted_at = :at where id = :id", nativeQuery = true)
    int retire(@Param("id") UUID id, @Param("at") Instant at);
}
