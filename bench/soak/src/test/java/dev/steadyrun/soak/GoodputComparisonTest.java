package dev.steadyrun.soak;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import tools.jackson.databind.JsonNode;

class GoodputComparisonTest {

    private static JsonNode report(String policy, String seed, double soakGoodput, double projected) {
        return Api.JSON.readTree("""
                {"settings": {"seed": "%s", "minutes": "30", "mean-gap-seconds": "20", "spares": "%s"},
                 "policy": "%s", "nodes": 1024, "worldSize": 992, "soakSeconds": 1800, "injected": {"NODE_LOSS": 3},
                 "incidents": 5, "incidentsByState": {"RECOVERED": 5}, "stepsTaken": 1500,
                 "soakGoodputCompressed": %s,
                 "goodput": {"projections": [{"label": "MTTF 7.9 h (1,024 GPUs)", "goodput": %s}]},
                 "violationCounts": {}}
                """.formatted(seed, policy.equals("ours") ? "16" : "0", policy, soakGoodput, projected));
    }

    @Test
    void bothSoaksFiguresSideBySide() {
        String md = GoodputComparison.markdown(report("ours", "1", 0.83, 0.9912), report("baseline", "1", 0.41, 0.7));
        assertThat(md).contains("seed 1, 30.0 min")
                .contains("| policy | ours | baseline |")
                .contains("| goodput on the soak's step clock | 83.00 % | 41.00 % |")
                .contains("| projected, measured losses, MTTF 7.9 h (1,024 GPUs) | 99.12 % | 70.00 % |")
                .contains("| nodes / ranks / spares | 1024 / 992 / 16 | 1024 / 992 / 0 |")
                .doesNotContain("did not replay the same trace");
    }

    @Test
    void soaksThatInjectedDifferentFailuresAreSaidToCompareDifferentFailures() {
        JsonNode cutShort = report("baseline", "1", 0.4, 0.7);
        ((tools.jackson.databind.node.ObjectNode) cutShort).putObject("injected").put("STRAGGLER", 1);
        assertThat(GoodputComparison.markdown(report("ours", "1", 0.8, 0.99), cutShort))
                .contains("injected different failures").doesNotContain("did not replay the same trace");
        assertThat(GoodputComparison.markdown(report("ours", "1", 0.8, 0.99), report("baseline", "1", 0.4, 0.7)))
                .doesNotContain("injected different failures");
    }

    @Test
    void soaksOfDifferentTracesAreSaidToBe() {
        assertThat(GoodputComparison.markdown(report("ours", "1", 0.8, 0.99), report("baseline", "2", 0.4, 0.7)))
                .contains("did not replay the same trace");
    }
}
