package dev.steadyrun.orchestrator.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.domain.PageRequest;

import dev.steadyrun.orchestrator.OrchestratorIntegrationTest;

/** The repositories' own queries against the real PostgreSQL schema (Flyway-migrated, Hibernate-validated). */
class NodeRepositoryTest extends OrchestratorIntegrationTest {

    @Autowired
    NodeRepository nodes;
    @Autowired
    NodeEventRepository events;
    @Autowired
    NodeRegistry registry;

    @Test
    void stateTransitionIsACompareAndSet() {
        UUID id = register("repo-cas", Map.of("gpu", "h100")).nodeId();
        Instant at = clock.instant();
        assertThat(nodes.transition(id, NodeState.HEALTHY, NodeState.SUSPECT, "x", at)).as("not HEALTHY").isZero();
        assertThat(nodes.findById(id).orElseThrow().getState()).isEqualTo(NodeState.REGISTERED);
        assertThat(nodes.findByName("repo-cas").orElseThrow().getLabels()).containsEntry("gpu", "h100");
        assertThat(events.findByNodeIdOrderByIdDesc(id, PageRequest.of(0, 10)).getContent())
                .singleElement().satisfies(e -> {
                    assertThat(e.getFromState()).isNull();
                    assertThat(e.getToState()).isEqualTo(NodeState.REGISTERED);
                    assertThat(e.getActor()).isEqualTo("system");
                });
    }

    @Test
    void listFiltersByStateAndLabelAndPages() {
        for (int i = 0; i < 3; i++) {
            register("repo-page-" + i, Map.of("pool", "repo-page"));
        }
        var page0 = registry.list(NodeState.REGISTERED, "pool=repo-page", 0, 2);
        var page1 = registry.list(NodeState.REGISTERED, "pool=repo-page", 1, 2);
        assertThat(page0.total()).isEqualTo(3);
        assertThat(page0.items()).extracting(NodeView::name).containsExactly("repo-page-0", "repo-page-1");
        assertThat(page1.items()).extracting(NodeView::name).containsExactly("repo-page-2");
        assertThat(registry.list(NodeState.HEALTHY, "pool=repo-page", 0, 10).total()).isZero();
    }
}
