package dev.steadyrun.orchestrator.ui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.TrainerReport;

/**
 * The web UI served by the orchestrator at {@code /}, driven in the machine's headless Chromium against the real
 * API and PostgreSQL. Screenshots are kept under {@code target/ui-screenshots/}.
 */
class WebUiEndToEndTest extends RunsApiSupport {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path SHOTS = Path.of("target", "ui-screenshots");
    private static final int STEPS = 40;

    private WebDriver browser;
    private WebDriverWait wait;
    private Path profile;

    @BeforeEach
    void startBrowser() throws IOException {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            fail("the web UI tests need " + CHROMIUM + " and " + CHROMEDRIVER
                    + ": apt-get install -y chromium chromium-driver");
        }
        if (getClass().getResource("/static/index.html") == null) {
            fail("the web UI is not on the classpath: build it first with mvn -f web-ui/pom.xml package");
        }
        profile = Files.createTempDirectory("steadyrun-chromium");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile()).addArguments(
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--user-data-dir=" + profile, "--window-size=1400,1100");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        wait = new WebDriverWait(browser, Duration.ofSeconds(20));
        Files.createDirectories(SHOTS);
    }

    @AfterEach
    void stopBrowser() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
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
                        new CheckpointWritten(STEPS - 1, STEPS * 1024L, "/ckpt/" + (STEPS - 1), 1.0, 0.25,
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
                .contains("✔ healthy").contains("/ckpt/" + (STEPS - 1)).contains(trainerNode.name());
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

    private String base() {
        return "http://127.0.0.1:" + port + "/";
    }

    private void signIn(String token) {
        browser.get(base());
        WebElement field = wait.until(ExpectedConditions.presenceOfElementLocated(By.name("token")));
        field.sendKeys(token);
        browser.findElement(By.cssSelector("form.signin button[type='submit']")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.tagName("nav")));
    }

    private void shoot(String name) throws IOException {
        byte[] png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES);
        Files.write(SHOTS.resolve(name + ".png"), png);
    }
}
