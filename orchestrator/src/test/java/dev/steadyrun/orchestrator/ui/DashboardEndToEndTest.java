package dev.steadyrun.orchestrator.ui;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.springframework.beans.factory.annotation.Autowired;

import dev.steadyrun.orchestrator.alert.AlertDispatcher;
import dev.steadyrun.orchestrator.alert.WebhookReceiver;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.TrainerState;
import tools.jackson.databind.JsonNode;

/**
 * The dashboard's own work in Chromium against the real orchestrator: submitting a run from the form and the YAML
 * box (the server's field errors shown where they belong), the runs list's paging and state filter, the admin pages
 * (a token created, its secret shown once and used, then revoked; a webhook created, tested and redelivered to a
 * real receiver; a non-admin shown the API's 403), and the fleet table naming each node with its run, rank,
 * heartbeat, GPU figures and failure reason. Screenshots under {@code target/ui-screenshots/dashboard-*}.
 */
class DashboardEndToEndTest extends BrowserSupport {

    @Autowired
    AlertDispatcher dispatcher;

    @Test
    void anOperatorSubmitsARunFromTheFormSeesTheServersFieldErrorsThenFindsItByState() throws IOException {
        String operator = token("OPERATOR");
        String rack = newRack();
        fleet(rack, 2);
        String name = "ui-submit " + rack;

        signIn(operator);
        wait.until(ExpectedConditions.elementToBeClickable(By.linkText("submit a run"))).click();
        WebElement form = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("form.submit")));
        retype(form.findElement(By.name("name")), name);
        retype(form.findElement(By.name("worldSize")), "2");
        retype(form.findElement(By.name("spares")), "-1");
        form.findElement(By.name("checkpointLocation")).sendKeys(CHECKPOINTS);
        new Select(form.findElement(By.name("precision"))).selectByValue("fp16-emulated");
        // the YAML box: a node selector and a bad learning rate on its line 4
        form.findElement(By.name("rest")).sendKeys("nodeSelector:\n  rack: " + rack + "\nhyper:\n  lr: -1\n");
        form.findElement(By.cssSelector("button[data-action='submit-run']")).click();

        // both refusals come from the server (the form checks neither): each lands where it belongs
        WebElement spares = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='spares']")));
        assertThat(spares.getText()).isEqualTo("must be 0 to 100000, was -1");
        assertThat(spares.findElement(By.xpath("preceding-sibling::input")).getDomAttribute("name")).isEqualTo("spares");
        assertThat(browser.findElement(By.cssSelector("[data-error='rest']")).getText())
                .startsWith("line 4: hyper.lr: must be above 0");
        assertThat(browser.findElements(By.cssSelector("[data-error='worldSize']"))).isEmpty();
        assertThat(jdbc.queryForObject("select count(*) from run where name = ?", Long.class, name)).isZero();
        shoot("dashboard-1-submit-field-errors");

        // a field set twice is refused before any request, on both places
        retype(form.findElement(By.name("spares")), "0");
        form.findElement(By.name("rest")).sendKeys("spares: 1\n");
        form.findElement(By.cssSelector("button[data-action='submit-run']")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='spares']")))
                .getText()).contains("also set in the YAML (line 5)");

        retype(form.findElement(By.name("rest")), "nodeSelector:\n  rack: " + rack + "\nhyper:\n  lr: 0.0005\n");
        form.findElement(By.cssSelector("button[data-action='submit-run']")).click();
        wait.until(ExpectedConditions.urlMatches("#/runs/[0-9a-f-]{36}$"));
        UUID runId = UUID.fromString(browser.getCurrentUrl().replaceAll(".*#/runs/", ""));
        JsonNode run = call("GET", "/api/v1/runs/" + runId, operator, null).body();
        assertThat(run.path("name").asString()).isEqualTo(name);
        assertThat(run.path("createdBy").asString()).startsWith("operator:");
        assertThat(run.at("/spec/worldSize").asInt()).isEqualTo(2);
        assertThat(run.at("/spec/hyper/lr").asDouble()).isEqualTo(0.0005);
        assertThat(run.at("/spec/hyper/precision").asString()).isEqualTo("fp16-emulated");
        assertThat(run.at("/spec/nodeSelector/rack").asString()).isEqualTo(rack);
        awaitState(operator, runId, RunState.STARTING);

        // the runs list by state: the new run under STARTING, not under PAUSED
        browser.get(base() + "#/runs");
        Select state = new Select(wait.until(ExpectedConditions.presenceOfElementLocated(By.name("runState"))));
        state.selectByValue("STARTING");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-run='" + name + "']")));
        assertThat(browser.findElements(By.cssSelector("table.runs tbody tr")).stream()
                .map(r -> r.findElement(By.cssSelector(".badge")).getText()).distinct().toList())
                .containsExactly("STARTING");
        shoot("dashboard-2-runs-starting");
        state.selectByValue("PAUSED");
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector("tr[data-run='" + name + "']")));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void theRunsListPagesThroughMoreRunsThanOnePageHolds() throws IOException {
        String operator = token("OPERATOR");
        String rack = newRack();
        fleet(rack, 1); // one node for 55 runs of one rank: one of them may start, the others wait, PENDING
        List<UUID> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 55; i++) {
            clock.advance(Duration.ofMillis(1)); // newest first is by submission time
            Map<String, Object> spec = tinyRun(rack, 1, 0);
            spec.put("name", String.format("page %s %02d", rack, i));
            Reply r = call("POST", "/api/v1/runs", operator, spec);
            assertThat(r.status()).as(r.raw().body()).isEqualTo(201);
            ids.add(UUID.fromString(r.body().get("id").asString()));
        }
        // the scheduler gives the rack's one node to one of them: only then does the count of pending runs hold still
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (ids.stream().noneMatch(id -> call("GET", "/api/v1/runs/" + id, operator, null).body().path("state")
                .asString().equals("STARTING"))) {
            assertThat(System.nanoTime()).as("one of the runs starts on the rack's node").isLessThan(deadline);
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        long pending = call("GET", "/api/v1/runs?state=PENDING&size=1", operator, null).body().get("total").asLong();

        signIn(operator);
        new Select(wait.until(ExpectedConditions.presenceOfElementLocated(By.name("runState")))).selectByValue("PENDING");
        // newest first: whichever one run started, #50 is among the 50 newest pending and #01 is not
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-run='page " + rack + " 50']")));
        assertThat(browser.findElements(By.cssSelector("table.runs tbody tr"))).hasSize(50);
        assertThat(browser.findElement(By.cssSelector(".pager .range")).getText()).isEqualTo("1–50 of " + pending);
        assertThat(browser.findElements(By.cssSelector("tr[data-run='page " + rack + " 01']"))).isEmpty();
        browser.findElement(By.cssSelector("button[data-page-action='next']")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-run='page " + rack + " 01']")));
        assertThat(browser.findElements(By.cssSelector("tr[data-run='page " + rack + " 50']"))).isEmpty();
        assertThat(browser.findElement(By.cssSelector(".pager .range")).getText())
                .isEqualTo("51–" + Math.min(100, pending) + " of " + pending);
        shoot("dashboard-3-runs-page-2");
        for (UUID id : ids) {
            call("POST", "/api/v1/runs/" + id + "/cancel", operator, null);
        }
    }

    @Test
    void anAdminCreatesAndRevokesATokenAndCreatesTestsAndRedeliversAWebhookAnOperatorIsRefused() throws IOException {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        signIn(ADMIN_TOKEN);
        wait.until(ExpectedConditions.elementToBeClickable(By.linkText("Tokens"))).click();
        WebElement tokenForm = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("form[aria-label='create a token']")));
        tokenForm.findElement(By.name("tokenName")).sendKeys("not a name!");
        tokenForm.findElement(By.cssSelector("button[data-action='create-token']")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='name']")))
                .getText()).contains("letters, digits");

        String tokenName = "ui-ci-" + suffix;
        retype(tokenForm.findElement(By.name("tokenName")), tokenName);
        new Select(tokenForm.findElement(By.name("tokenRole"))).selectByValue("OPERATOR");
        tokenForm.findElement(By.cssSelector("button[data-action='create-token']")).click();
        String secret = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("code[data-secret]")))
                .getText();
        assertThat(secret).startsWith("srt_");
        Reply me = call("GET", "/api/v1/me", secret, null);
        assertThat(me.status()).isEqualTo(200);
        assertThat(me.body().path("role").asString()).isEqualTo("OPERATOR");
        WebElement row = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("tr[data-token='" + tokenName + "']")));
        assertThat(row.getText()).contains("OPERATOR");
        shoot("dashboard-4-token-created");
        browser.findElement(By.cssSelector("button[data-action='dismiss-secret']")).click();
        assertThat(browser.findElements(By.cssSelector("code[data-secret]"))).isEmpty();
        assertThat(browser.getPageSource()).doesNotContain(secret);

        row.findElement(By.cssSelector("button[data-action='revoke']")).click();
        row.findElement(By.cssSelector("button[data-action='confirm-revoke']")).click();
        wait.until(ExpectedConditions.attributeContains(By.cssSelector("tr[data-token='" + tokenName + "']"),
                "class", "revoked"));
        assertThat(call("GET", "/api/v1/me", secret, null).status()).isEqualTo(401);

        try (WebhookReceiver receiver = new WebhookReceiver(n -> WebhookReceiver.Answer.status(204))) {
            browser.findElement(By.linkText("Webhooks")).click();
            WebElement hookForm = wait.until(ExpectedConditions.presenceOfElementLocated(
                    By.cssSelector("form[aria-label='create a webhook']")));
            String hookName = "ui-hook-" + suffix;
            hookForm.findElement(By.name("webhookName")).sendKeys(hookName);
            hookForm.findElement(By.name("webhookUrl")).sendKeys("ftp://" + suffix + ".example/hook");
            hookForm.findElement(By.cssSelector("button[data-action='create-webhook']")).click();
            assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-error='url']")))
                    .getText()).isNotBlank();
            retype(hookForm.findElement(By.name("webhookUrl")), receiver.url());
            hookForm.findElement(By.cssSelector("button[data-action='create-webhook']")).click();
            assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("code[data-secret]")))
                    .getText()).startsWith("whsec_");
            WebElement hook = wait.until(ExpectedConditions.presenceOfElementLocated(
                    By.cssSelector("tr[data-webhook='" + hookName + "']")));
            assertThat(hook.getText()).contains(receiver.url()).contains("incident.opened, node.failed");

            hook.findElement(By.cssSelector("button[data-action='test']")).click();
            wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-delivery][data-state='PENDING']")));
            assertThat(dispatcher.dispatchDue()).isPositive();
            WebElement delivered = wait.until(ExpectedConditions.presenceOfElementLocated(
                    By.cssSelector("tr[data-delivery][data-state='DELIVERED']")));
            assertThat(delivered.getText()).contains("webhook.test").contains("HTTP 204");
            assertThat(receiver.received()).hasSize(1);
            assertThat(receiver.received().get(0).body()).contains("\"type\":\"webhook.test\"");
            shoot("dashboard-5-webhook-delivered");

            delivered.findElement(By.cssSelector("button[data-action='redeliver']")).click();
            wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-delivery][data-state='PENDING']")));
            assertThat(dispatcher.dispatchDue()).isPositive();
            wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-delivery][data-state='DELIVERED']")));
            assertThat(receiver.received()).hasSize(2);
            // the same message, sent again: receivers deduplicate on webhook-id
            assertThat(receiver.received().get(1).header("webhook-id"))
                    .isEqualTo(receiver.received().get(0).header("webhook-id"));
        }

        // an operator has no admin pages; typed in, the tokens page says why with the API's 403
        browser.findElement(By.xpath("//button[text()='Sign out']")).click();
        signIn(token("OPERATOR"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-role='OPERATOR']")));
        assertThat(browser.findElements(By.linkText("Tokens"))).isEmpty();
        assertThat(browser.findElements(By.linkText("Webhooks"))).isEmpty();
        browser.get(base() + "#/admin/tokens");
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("main p.error"))).getText())
                .isEqualTo("Tokens are managed with an admin token (the API answered 403: this needs role ADMIN;"
                        + " the token has OPERATOR)");
        shoot("dashboard-6-operator-refused");
    }

    @Test
    void theFleetTableNamesEachNodeWithItsRunRankHeartbeatGpusAndFailureReason() throws IOException {
        String operator = token("OPERATOR");
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        Reply submitted = call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0));
        assertThat(submitted.status()).as(submitted.raw().body()).isEqualTo(201);
        UUID runId = UUID.fromString(submitted.body().get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        UUID placed = UUID.fromString(call("GET", "/api/v1/runs/" + runId + "/generations", operator, null)
                .body().get(0).get("ranks").get(0).get("nodeId").asString());
        Agent busy = agents.stream().filter(a -> a.id().equals(placed)).findFirst().orElseThrow();
        List<Agent> others = agents.stream().filter(a -> a != busy).toList();
        Agent broken = others.get(0);
        assertThat(heartbeat(busy.registration(), 1_000_001, trainer(TrainerState.RUNNING, runId, 0, 1),
                new GpuHealth(0, 77, 60_000, 81559, 88, 0, 0, 0, List.of(), 0)).status()).isEqualTo(200);
        // XID 79: the agent reports the GPU fell off the bus; the node fails with that reason
        assertThat(heartbeat(broken.registration(), 1_000_001, dev.steadyrun.protocol.TrainerStatus.idle(),
                new GpuHealth(0, 40, 0, 81559, 0, 0, 0, 0, List.of(79), 0)).status()).isEqualTo(200);
        assertThat(nodeState(broken.id())).isEqualTo("FAILED");

        signIn(operator);
        browser.findElement(By.linkText("Fleet")).click();
        // the rack menu is there before the first poll has filled it
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("select[name='rack'] option[value='"
                + rack + "']")));
        new Select(browser.findElement(By.name("rack"))).selectByValue(rack);
        wait.until(d -> d.findElements(By.cssSelector("table.nodes tbody tr")).size() == agents.size());
        WebElement busyRow = browser.findElement(By.cssSelector("tr[data-node-row='" + busy.name() + "']"));
        assertThat(busyRow.findElement(By.cssSelector("td.run a")).getDomAttribute("href")).isEqualTo("#/runs/" + runId);
        assertThat(busyRow.findElement(By.cssSelector("td.seat")).getText()).isEqualTo("rank 0 · gen 1 · RUNNING");
        assertThat(busyRow.findElement(By.cssSelector("td.temp")).getText()).isEqualTo("77");
        assertThat(busyRow.findElement(By.cssSelector("td.util")).getText()).isEqualTo("88");
        assertThat(busyRow.findElement(By.cssSelector("td.age")).getText()).matches("\\d+ s");
        WebElement brokenRow = browser.findElement(By.cssSelector("tr[data-node-row='" + broken.name() + "']"));
        assertThat(brokenRow.findElement(By.cssSelector(".badge")).getText()).isEqualTo("FAILED");
        assertThat(brokenRow.findElement(By.cssSelector("td.reason")).getText()).contains("79");
        assertThat(brokenRow.findElement(By.cssSelector("td.run")).getText()).isEqualTo("–");
        // the compact grid stays beside it, one cell a node
        assertThat(browser.findElements(By.cssSelector(".grid .cell"))).hasSize(agents.size());
        shoot("dashboard-7-fleet-table");

        brokenRow.findElement(By.cssSelector("td.reason")).click();
        assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("aside[data-selected='" + broken.name() + "']"))).getText()).contains("FAILED");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }
}
