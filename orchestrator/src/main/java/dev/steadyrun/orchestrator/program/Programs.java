package dev.steadyrun.orchestrator.program;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.orchestrator.web.UnprocessableException;
import dev.steadyrun.protocol.ProgramRef;

/**
 * The registry of programs run specs may name, and which nodes have each installed (as their agents advertised at
 * registration). The built-in program ({@link ProgramRef#BUILT_IN}) is always allowed and on every node.
 */
@Service
public class Programs {

    /** A registry this long is a mistake or an attack, not a fleet's set of programs. */
    static final int MAX_REGISTERED = 1000;

    private static final String COLUMNS = """
            p.id, p.name, p.version, p.description, p.registered_at, p.registered_by,
            (select count(*) from node_program np join node n on n.id = np.node_id
             where n.deleted_at is null and np.program = p.name || '@' || p.version) as nodes""";

    private final JdbcTemplate jdbc;
    private final Clock clock;

    Programs(JdbcTemplate jdbc, Clock clock) {
        this.jdbc = jdbc;
        this.clock = clock;
    }

    @Transactional
    ProgramDtos.Program register(ProgramDtos.RegisterProgram request, String actor) {
        ProgramRef ref = new ProgramRef(request.name(), request.version());
        if (ref.name().equals(ProgramRef.BUILT_IN.name())) {
            throw new ConflictException("'" + ProgramRef.BUILT_IN.name() + "' is the built-in trainer: every agent"
                    + " has it and it needs no registration");
        }
        // one at a time, so that the limit holds under concurrent registrations
        jdbc.execute("lock table program in share row exclusive mode");
        Long count = jdbc.queryForObject("select count(*) from program", Long.class);
        if (count != null && count >= MAX_REGISTERED) {
            throw new ConflictException("the registry holds " + MAX_REGISTERED + " programs, its limit: remove one");
        }
        UUID id = UUID.randomUUID();
        Instant now = clock.instant();
        int inserted = jdbc.update("""
                insert into program (id, name, version, description, registered_at, registered_by)
                values (?, ?, ?, ?, ?, ?) on conflict (name, version) do nothing""",
                id, ref.name(), ref.version(), request.description(), Timestamp.from(now), actor);
        if (inserted == 0) {
            throw new ConflictException("program " + ref + " is already registered");
        }
        return get(id);
    }

    @Transactional(readOnly = true)
    List<ProgramDtos.Program> list() {
        return jdbc.query("select " + COLUMNS + " from program p order by p.name, p.version", Programs::program);
    }

    /** Removes the registration: new runs may no longer name it; runs that already do go on. */
    @Transactional
    ProgramDtos.Program delete(UUID id) {
        ProgramDtos.Program program = get(id);
        jdbc.update("delete from program where id = ?", id);
        return program;
    }

    private ProgramDtos.Program get(UUID id) {
        return jdbc.query("select " + COLUMNS + " from program p where p.id = ?", Programs::program, id).stream()
                .findFirst().orElseThrow(() -> new NotFoundException("no program " + id));
    }

    /** @throws UnprocessableException naming {@code program} when a run may not train {@code ref} */
    @Transactional(readOnly = true)
    public void requireRegistered(ProgramRef ref) {
        if (ref.equals(ProgramRef.BUILT_IN)) {
            return;
        }
        Boolean known = jdbc.queryForObject("select exists (select 1 from program where name = ? and version = ?)",
                Boolean.class, ref.name(), ref.version());
        if (!Boolean.TRUE.equals(known)) {
            throw new UnprocessableException("program", "program " + ref + " is not registered; an admin registers"
                    + " it (POST /api/v1/programs) once agents have it installed");
        }
    }

    /** Which nodes may run {@code ref}: every node for the built-in program, else those that advertised it. */
    @Transactional(readOnly = true)
    public Predicate<UUID> installedOn(ProgramRef ref) {
        if (ref.equals(ProgramRef.BUILT_IN)) {
            return node -> true;
        }
        Set<UUID> nodes = new HashSet<>(jdbc.queryForList("select node_id from node_program where program = ?",
                UUID.class, ref.toString()));
        return nodes::contains;
    }

    private static ProgramDtos.Program program(ResultSet rs, int row) throws SQLException {
        return new ProgramDtos.Program(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("version"),
                rs.getString("description"), rs.getTimestamp("registered_at").toInstant(),
                rs.getString("registered_by"), rs.getLong("nodes"));
    }
}
