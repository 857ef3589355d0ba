package dev.steadyrun.orchestrator.run;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import jakarta.persistence.LockModeType;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Lock;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;

public interface RunRepository extends JpaRepository<Run, UUID> {

    Page<Run> findByState(RunState state, Pageable pageable);

    /** Locks the row: state changes and generation bumps of one run are serialized. */
    @Lock(LockModeType.PESSIMISTIC_WRITE)
    @Query("select r from Run r where r.id = :id")
    Optional<Run> findForUpdate(UUID id);

    @Query("select r from Run r where r.state = :state order by r.createdAt, r.id")
    List<Run> findInStateOldestFirst(RunState state);

    /** The runs whose current generation trains ({@link RunState#LIVE}): starting ones, then running ones. */
    default List<Run> findLiveOldestFirst() {
        List<Run> live = new ArrayList<>(findInStateOldestFirst(RunState.STARTING));
        live.addAll(findInStateOldestFirst(RunState.RUNNING));
        return live;
    }

    @Query("select r.state as state, count(r) as count from Run r group by r.state")
    List<StateCount> countByState();

    interface StateCount {
        RunState getState();

        long getCount();
    }

    /**
     * Progress from accepted reports: never moves backwards when reports of two ranks arrive out of order (a restart
     * from a checkpoint moves it back, {@link Run#rewindTo}).
     */
    @Modifying
    @Query(value = """
            update run set last_step = :step, last_loss = :loss, tokens_seen = :tokens
            where id = :id and (last_step is null or last_step <= :step)""", nativeQuery = true)
    int recordProgress(UUID id, long step, double loss, long tokens);
}
