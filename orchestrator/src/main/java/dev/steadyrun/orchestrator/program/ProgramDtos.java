package dev.steadyrun.orchestrator.program;

import java.time.Instant;
import java.util.UUID;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/** The program API's records. */
final class ProgramDtos {

    private ProgramDtos() {
    }

    /** What an admin registers: a name and version that agents install; never how to run it. */
    record RegisterProgram(
            @NotNull @Pattern(regexp = "[a-z0-9][a-z0-9._-]{0,62}",
                    message = "1-63 lower-case letters, digits, '.', '_' or '-'") String name,
            @NotNull @Pattern(regexp = "[A-Za-z0-9][A-Za-z0-9._+-]{0,63}",
                    message = "1-64 letters, digits, '.', '_', '+' or '-'") String version,
            @Size(max = 500) @Pattern(regexp = "\\P{Cntrl}*",
                    message = "must not contain control characters (line breaks, tabs)") String description) {
    }

    /**
     * A registered program.
     *
     * @param nodes how many live nodes have it installed now
     */
    record Program(UUID id, String name, String version, String description, Instant registeredAt,
                   String registeredBy, long nodes) {
    }
}
