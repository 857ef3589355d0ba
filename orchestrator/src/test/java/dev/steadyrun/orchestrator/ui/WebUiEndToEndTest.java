package dev.steadyrun.orchestrator.ui;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;

/**
 * The web UI served by the orchestrator at {@code /}, driven in the machine's headless Chromium against the real
 * API and PostgreSQL: following runs, restarts, swaps and the logbook. Screenshots are kept under
 * {@code target/ui-screenshots/}.
 */
class WebUiEndToEndTest extends BrowserSupport {

    private static final int STEPS = 40;

    /** A viewer picks a rank on the run page, turns on follow, and sees a line its agent posts a moment later. */
    @Test
    void aViewerFollowsARanksLiveLog() throws IOException {
        String viewer = token("VIEWER");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        Reply submitted = call("POST", "/api/v1/runs", ADMIN_TOKEN, tinyRun(rack, 2, 0));
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(ADMIN_TOKEN, runId, RunState.STARTING);
        Agent rankOne = null;
        for (Agent a : agents) {
            HeartbeatResponse answer = heartbeat(a, TrainerStatus.idle());
            if (answer.desired() == DesiredState.RUN && answer.assignment().rank() == 1) {
                rankOne = a;
            }
        }
        assertThat(rankOne).isNotNull();
        assertThat(postLog(rankOne, runId, 0, "rank 1 loads its shard", "<b>not markup</b>")).isEqualTo(204);

        signIn(viewer);
        browser.get(base() + "#/runs/" + runId);
        WebElement rank = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("select[data-field='log-rank']")));
        scrollTo(rank);
        new Select(rank).selectByValue("1");
        wait.until(d -> d.findElement(By.cssSelector("pre[data-log-rank='1']")).getText()
                .contains("rank 1 loads its shard"));
        assertThat(browser.findElement(By.cssSelector("pre.log [data-seq='1']")).getText())
                .as("a line is text, never markup").isEqualTo("<b>not markup</b>");

        browser.findElement(By.cssSelector("input[data-field='log-follow']")).click();
        wait.until(d -> d.findElement(By.cssSelector("pre.log")).getText().contains("rank 1 loads its shard"));
        assertThat(postLog(rankOne, runId, 2, "a line posted while the page follows")).isEqualTo(204);
        wait.until(d -> d.findElement(By.cssSelector("pre.log")).getText()
                .contains("a line posted while the page follows"));
        assertThat(browser.findElements(By.cssSelector("pre.log [data-seq]"))).hasSize(3);
        shoot("logs-follow");
    }

    private int postLog(Agent agent, UUID runId, long firstSeq, String... texts) {
        List<TrainerLogBatch.Line> lines = new java.util.ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            lines.add(new TrainerLogBatch.Line(firstSeq + i, java.time.Instant.now(), TrainerLogBatch.Stream.STDERR,
                    texts[i]));
        }
        return call("POST", "/api/v1/agents/" + agent.id() + "/logs", agent.credential(),
                new TrainerLogBatch(runId, 1, 1, lines, 0L)).status();
    }

    @Test
    void anOperatorFollowsARunAndCordonsANodeAViewerOnlyLooks() throws IOException {
        String operator = token("OPERATOR");
        String viewer = token("VIEWER");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        Map<String, Object> spec = tinyRun(rack, 1, 0);
        String runName = "ui " + rack;
        spec.put("name", runName);
        Reply submitted = call("POST", "/api/v1/runs", operator, spec);
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        UUID placedNode = UUID.fromString(call("GET", "/api/v1/runs/" + runId + "/generations", operator, null)
                .body().get(0).get("ranks").get(0).get("nodeId").asString());
        Agent trainerNode = agents.stream().filter(a -> a.id().equals(placedNode)).findFirst().orElseThrow();
        assertThat(report(trainerNode, runId, 0, 1, 0, STEPS).status()).isEqualTo(204);
        Reply checkpoint = call("POST", "/api/v1/agents/" + trainerNode.id() + "/reports",
                trainerNode.credential(), new TrainerReport(runId, 0, 1, List.of(), List.of(
                        new CheckpointWritten(STEPS - 1, STEPS * 1024L, checkpointPath(runId, STEPS - 1), 1.0, 0.25,
                                "ab".repeat(32), 4096))));
        assertThat(checkpoint.status()).as(checkpoint.raw().body()).isEqualTo(204);

        signIn(operator);
        WebElement row = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("tr[data-run='" + runName + "']")));
        // step, loss 10/40 and tokens/s as reported
        assertThat(row.getText()).contains("RUNNING").contains(String.valueOf(STEPS - 1)).contains("0.25")
                .contains("500");
        shoot("1-runs");

        row.findElement(By.linkText(runName)).click();
        WebElement loss = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("figure[data-chart='loss'] path.line")));
        // one vertex per reported step: the server's downsampling keeps all 40 under maxPoints
        assertThat(loss.getDomAttribute("d").split(" ")).hasSize(STEPS);
        assertThat(browser.findElement(By.tagName("main")).getText())
                .contains("✔ healthy").contains(checkpointPath(runId, STEPS - 1)).contains(trainerNode.name());
        assertThat(browser.findElements(By.cssSelector("button[data-action='pause']"))).hasSize(1);
        shoot("2-run");
        // live: steps reported while the page is open show up without a reload
        assertThat(report(trainerNode, runId, 0, 1, STEPS, 10).status()).isEqualTo(204);
        wait.until(d -> d.findElement(By.cssSelector("figure[data-chart='loss'] path.line")).getDomAttribute("d")
                .split(" ").length == STEPS + 10);

        browser.findElement(By.linkText("Fleet")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(".grid .cell")));
        new Select(browser.findElement(By.name("rack"))).selectByValue(rack);
        wait.until(d -> d.findElements(By.cssSelector(".grid .cell")).size() == agents.size());
        Agent idle = agents.stream().filter(a -> !a.id().equals(placedNode)).findFirst().orElseThrow();
        browser.findElement(By.cssSelector(".cell[data-node='" + idle.id() + "']")).click();
        WebElement panel = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("aside[data-selected='" + idle.name() + "']")));
        panel.findElement(By.cssSelector("button[data-action='cordon']")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("aside[data-selected='" + idle.name() + "'] .badge"), "CORDONED"));
        assertThat(nodeState(idle.id())).isEqualTo("CORDONED");
        assertThat(jdbc.queryForObject("select actor from node_event where node_id = ? and to_state = 'CORDONED'",
                String.class, idle.id())).startsWith("operator:");
        shoot("3-fleet-cordoned");

        browser.findElement(By.xpath("//button[text()='Sign out']")).click();
        signIn(viewer);
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-role='VIEWER']")));
        browser.get(base() + "#/runs/" + runId);
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("figure[data-chart='loss'] path.line")));
        assertThat(browser.findElements(By.cssSelector("button[data-action]"))).isEmpty();
        browser.get(base() + "#/nodes/" + idle.id());
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("main"), "GPUs"));
        assertThat(browser.findElements(By.cssSelector("button[data-action]"))).isEmpty();
        assertThat(browser.findElement(By.tagName("main")).getText()).contains("NVIDIA H100").contains("CORDONED");
        shoot("4-viewer-node");
    }

    @Test
    void anOperatorRestartsARunFromACheckpointThenSwapsItsNodeAndReadsTheLogbook() throws IOException {
        String operator = token("OPERATOR");
        String viewer = token("VIEWER");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        Map<String, Object> spec = tinyRun(rack, 1, 0);
        spec.put("name", "ui-recovery " + rack);
        Reply submitted = call("POST", "/api/v1/runs", operator, spec);
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        UUID placedNode = UUID.fromString(call("GET", "/api/v1/runs/" + runId + "/generations", operator, null)
                .body().get(0).get("ranks").get(0).get("nodeId").asString());
        Agent first = agents.stream().filter(a -> a.id().equals(placedNode)).findFirst().orElseThrow();
        assertThat(report(first, runId, 0, 1, 0, 30).status()).isEqualTo(204);
        for (long step : new long[] {9, 19, 29}) {
            Reply written = call("POST", "/api/v1/agents/" + first.id() + "/reports", first.credential(),
                    new TrainerReport(runId, 0, 1, List.of(), List.of(new CheckpointWritten(step, (step + 1) * 1024,
                            checkpointPath(runId, step), 1.0, 10.0 / (step + 1), "cd".repeat(32), 4096))));
            assertThat(written.status()).as(written.raw().body()).isEqualTo(204);
        }

        // a viewer's restart and swap are refused by the API itself, whatever the UI shows
        assertThat(call("POST", "/api/v1/runs/" + runId + "/restart", viewer, Map.of()).status()).isEqualTo(403);
        assertThat(call("POST", "/api/v1/nodes/" + first.id() + "/swap", viewer, null).status()).isEqualTo(403);

        signIn(operator);
        browser.get(base() + "#/runs/" + runId);
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("figure[data-chart='loss'] path.line")));
        browser.findElement(By.cssSelector("button[data-action='restart']")).click();
        WebElement form = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("form.restart")));
        Select checkpoint = new Select(form.findElement(By.name("checkpointStep")));
        // the newest complete checkpoint is preselected
        assertThat(checkpoint.getFirstSelectedOption().getDomAttribute("value")).isEqualTo("29");
        checkpoint.selectByValue("19");
        form.findElement(By.name("clipNorm")).sendKeys("-1");
        form.findElement(By.cssSelector("button[data-action='restart-submit']")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='clipNorm']")))
                .getText()).contains("above 0");
        shoot("5-restart-form-invalid");
        retype(form.findElement(By.name("clipNorm")), "0.3");
        form.findElement(By.name("lrMultiplier")).sendKeys("0.5");
        form.findElement(By.name("resetLossScaler")).click();
        // the form leaves the reason's length to the API: its problem detail lands next to the field it names
        form.findElement(By.name("reason")).sendKeys("x".repeat(501));
        form.findElement(By.cssSelector("button[data-action='restart-submit']")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='reason']")))
                .getText()).contains("at most 500 characters");
        assertThat(browser.findElements(By.cssSelector("[data-error='clipNorm']"))).isEmpty();
        assertThat(call("GET", "/api/v1/runs/" + runId + "/incidents", operator, null).body().size()).isZero();
        retype(form.findElement(By.name("reason")), "ui test: back to step 19");
        form.findElement(By.cssSelector("button[data-action='restart-submit']")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("p.notice"))).getText())
                .contains("Restart requested").contains("from step 19");
        assertThat(browser.findElements(By.cssSelector("[data-error]"))).isEmpty();

        // the agents play along: the old generation stops before the new one starts from the chosen checkpoint
        Placement second = restartedOn(agents, first, runId, 1, 2);
        assertThat(second.assignment().restoreFrom()).isEqualTo(checkpointPath(runId, 19));
        assertThat(second.assignment().knobs().clipNorm()).isEqualTo(0.3);
        assertThat(second.assignment().knobs().lrMultiplier()).isEqualTo(0.5);
        assertThat(second.assignment().knobs().resetLossScaler()).isTrue();
        Agent secondNode = second.agent();
        assertThat(report(secondNode, runId, 0, 2, 20, 15).status()).isEqualTo(204);
        Reply written = call("POST", "/api/v1/agents/" + secondNode.id() + "/reports", secondNode.credential(),
                new TrainerReport(runId, 0, 2, List.of(), List.of(new CheckpointWritten(34, 35 * 1024, checkpointPath(runId, 34),
                        1.0, 10.0 / 35, "ef".repeat(32), 4096))));
        assertThat(written.status()).as(written.raw().body()).isEqualTo(204);

        WebElement entry = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("li[data-kind='MANUAL_RESTART']")));
        wait.until(d -> d.findElements(By.cssSelector("tr[data-generation='2']")).size() == 1);
        wait.until(d -> !d.findElements(By.cssSelector(
                "figure[data-chart='loss'] line[data-marker='restart'][data-step='19']")).isEmpty());
        assertThat(entry.getText()).contains("step 19").contains("LR × 0.5").contains("clip 0.3")
                .contains("reset loss scaler").contains("new generation 2");
        shoot("6-restarted");
        scrollTo(entry);
        shoot("6b-logbook-manual-restart");

        // swap the node that now holds rank 0, from the fleet view, with a confirmation
        browser.findElement(By.linkText("Fleet")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(".grid .cell")));
        new Select(browser.findElement(By.name("rack"))).selectByValue(rack);
        wait.until(d -> d.findElements(By.cssSelector(".grid .cell")).size() == agents.size());
        browser.findElement(By.cssSelector(".cell[data-node='" + secondNode.id() + "']")).click();
        String panel = "aside[data-selected='" + secondNode.name() + "']";
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(panel)))
                .findElement(By.cssSelector("button[data-action='swap']")).click();
        WebElement confirm = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector(panel + " button[data-action='confirm-swap']")));
        assertThat(browser.findElement(By.cssSelector(panel + " .confirm")).getText()).contains("a spare takes its rank");
        assertThat(nodeState(secondNode.id())).isNotEqualTo("CORDONED");
        shoot("7-swap-confirm");
        confirm.click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(panel + " .badge"), "CORDONED"));
        assertThat(nodeState(secondNode.id())).isEqualTo("CORDONED");
        Placement third = restartedOn(agents, secondNode, runId, 2, 3);
        Agent thirdNode = third.agent();
        assertThat(thirdNode.id()).isNotEqualTo(secondNode.id());
        assertThat(third.assignment().restoreFrom()).isEqualTo(checkpointPath(runId, 34));
        shoot("8-fleet-swapped");

        // the swapped node's page lists the swap
        browser.get(base() + "#/nodes/" + secondNode.id());
        WebElement swap = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("li[data-kind='NODE_SWAP']")));
        assertThat(swap.getText()).contains(thirdNode.name()).contains("SWAP_NODE_AND_RESTART");
        shoot("9-node-incidents");

        // generation 3 trains on, then its loss scale collapses: recovery's own incident, marked at its onset
        assertThat(report(thirdNode, runId, 0, 3, 35, 10).status()).isEqualTo(204);
        Reply collapsed = call("POST", "/api/v1/agents/" + thirdNode.id() + "/reports", thirdNode.credential(),
                new TrainerReport(runId, 0, 3, List.of(new StepMetrics(45, 46 * 1024, 0.2, 0.5, 0.25, false, 1e-3, 500,
                        2000, 1 << 30, List.of(1.0, 1.1))), List.of()));
        assertThat(collapsed.status()).as(collapsed.raw().body()).isEqualTo(204);
        browser.get(base() + "#/runs/" + runId);
        WebElement divergence = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("li[data-kind='DIVERGENCE']")));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector(
                "figure[data-chart='loss scale'] line[data-marker='incident'][data-step='45']")));
        assertThat(browser.findElements(By.cssSelector("tr[data-generation='3']"))).hasSize(1);
        List<String> kinds = browser.findElements(By.cssSelector("ol.logbook > li")).stream()
                .map(li -> li.getDomAttribute("data-kind")).toList();
        assertThat(kinds).containsExactly("DIVERGENCE", "NODE_SWAP", "MANUAL_RESTART");
        divergence.findElement(By.tagName("summary")).click();
        WebElement window = divergence.findElement(By.cssSelector("table[data-evidence='metrics']"));
        assertThat(window.isDisplayed()).isTrue();
        assertThat(window.getText()).contains("45").contains("0.25");
        scrollTo(divergence);
        shoot("10-run-logbook");

        browser.get(base() + "#/runs");
        WebElement listed = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("tr[data-run='ui-recovery " + rack + "']")));
        assertThat(listed.findElement(By.cssSelector("td.restarts")).getText()).isEqualTo("2");
        assertThat(listed.findElement(By.cssSelector("td.open-incidents")).getText()).isEqualTo("1");
        shoot("11-runs-restarts");

        browser.findElement(By.xpath("//button[text()='Sign out']")).click();
        signIn(viewer);
        browser.get(base() + "#/runs/" + runId);
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("li[data-kind='NODE_SWAP']")));
        assertThat(browser.findElements(By.cssSelector("button[data-action]"))).isEmpty();
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    private record Placement(Agent agent, Assignment assignment) {
    }

    /**
     * Plays the agents through a restart: the old rank keeps saying it runs {@code from} until it is told to stop,
     * then exits; every node then heartbeats idle until one is told to run generation {@code to}.
     */
    private Placement restartedOn(List<Agent> agents, Agent old, UUID runId, long from, long to) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (heartbeat(old, trainer(TrainerState.RUNNING, runId, 0, from)).desired() != DesiredState.STOP) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(old.name() + " was never told to stop generation " + from);
            }
            pause();
        }
        heartbeat(old, trainer(TrainerState.EXITED, runId, 0, from));
        while (true) {
            for (Agent agent : agents) {
                HeartbeatResponse answer = heartbeat(agent, TrainerStatus.idle());
                if (answer.desired() == DesiredState.RUN && answer.assignment().generation() == to) {
                    return new Placement(agent, answer.assignment());
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no node was told to run generation " + to + " of " + runId);
            }
            pause();
        }
    }

    private static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
