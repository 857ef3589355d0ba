package dev.steadyrun.orchestrator.alert;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.stereotype.Component;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * Writes a delivery's body. The same event always gives the same bytes, so every retry of a delivery carries the
 * same body under the same {@code webhook-id}.
 */
@Component
class PayloadRenderer {

    private final ObjectMapper json;

    PayloadRenderer(ObjectMapper json) {
        this.json = json;
    }

    String render(WebhookFormat format, String type, Instant occurredAt, String dataJson) {
        JsonNode data = json.readTree(dataJson);
        Map<String, Object> body = new LinkedHashMap<>();
        if (format == WebhookFormat.SLACK) {
            body.put("text", slackEscaped(sentence(type, data)));
        } else {
            body.put("type", type);
            body.put("timestamp", occurredAt.toString());
            body.put("data", data);
        }
        return json.writeValueAsString(body);
    }

    /** One human sentence for chat. Publishers of other event types put it in {@code data.summary}. */
    static String sentence(String type, JsonNode d) {
        String text = switch (type) {
            case "node.failed" -> "Node " + s(d, "nodeName") + " (" + s(d, "hostname") + ") FAILED after "
                    + s(d, "fromState") + ": " + s(d, "reason");
            case "node.cordoned" -> "Node " + s(d, "nodeName") + " (" + s(d, "hostname") + ") was cordoned by "
                    + s(d, "actor") + ": " + s(d, "reason");
            case "run.state_changed" -> "Run " + (d.path("runName").isString() ? s(d, "runName") : s(d, "runId"))
                    + " went from " + s(d, "fromState") + " to " + s(d, "toState") + " (generation "
                    + s(d, "generation") + "): " + s(d, "reason");
            case "webhook.test" -> "Test event for webhook " + s(d, "webhookName") + ": delivery works.";
            default -> type + ": " + (d.path("summary").isString() ? s(d, "summary") : d.toString());
        };
        return "Steadyrun: " + text;
    }

    /**
     * Slack reads {@code <...>} as links and mentions ({@code <!channel>}) and {@code &} as an entity: a run or host
     * name must stay text, so these three are escaped as Slack asks.
     */
    static String slackEscaped(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static String s(JsonNode d, String field) {
        JsonNode v = d.path(field);
        return v.isMissingNode() || v.isNull() ? "-" : v.asString();
    }
}
