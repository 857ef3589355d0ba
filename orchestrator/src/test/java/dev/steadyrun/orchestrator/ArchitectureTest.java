package dev.steadyrun.orchestrator;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import org.junit.jupiter.api.Test;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;

/**
 * The orchestrator's features depend on each other in one direction only: a cycle between two packages means a walk
 * through the code (a report, a heartbeat, a restart) can go down and come back up, which is what made the recovery
 * hub hard to follow. docs/architecture.md draws the allowed graph.
 */
class ArchitectureTest {

    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.steadyrun.orchestrator");

    @Test
    void featurePackagesFormNoCycle() {
        slices().matching("dev.steadyrun.orchestrator.(*)..").should().beFreeOfCycles().check(MAIN);
    }
}
