package dev.steadyrun.orchestrator.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.time.Duration;
import java.time.temporal.Temporal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.MethodParameter;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.mvc.method.RequestMappingInfo;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;

import dev.steadyrun.orchestrator.run.RunSpecRequest;
import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.orchestrator.run.RunsApiSupport;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.GpuHealth;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.HeartbeatRequest;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.TrainerLogBatch;
import dev.steadyrun.protocol.TrainerReport;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/**
 * Walks every API endpoint Spring knows (so a new endpoint is covered without being listed here) with what an
 * attacker on the network or a careless client sends: no token, a wrong one, a revoked one, the join token or a
 * node credential where an operator token belongs, another node's credential, a role too low; then, correctly
 * authenticated, a malformed path variable or parameter, malformed, oversized or wrongly-shaped bodies, and for
 * every field of the body's type (found by reflection) a value of the wrong type, out of its range, or holding NUL.
 * Every answer must be a 4xx problem detail (the expected status where there is one, and the field named where the
 * value of a field was bad), no table's row count may change, and no secret may appear in any answer or the log.
 */
@ExtendWith(OutputCaptureExtension.class)
class HostileRequestsTest extends RunsApiSupport {

    @Autowired
    @Qualifier("requestMappingHandlerMapping")
    RequestMappingHandlerMapping mappings;

    private static final Pattern VARIABLE = Pattern.compile("\\{([^}/]+)}");
    private static final String WRONG_TOKEN = "srt_" + "0".repeat(40);
    private static final int OVERSIZED = 1_100_000; // the API refuses bodies above 1 MB
    /** A case's status when any 4xx will do. */
    private static final int ANY_4XX = 0;

    /**
     * One request and what must come back: {@code status} ({@link #ANY_4XX} where more than one refusal is right),
     * {@code field} null where no single field is to blame.
     */
    record Case(String what, String method, String path, String token, String body, String contentType, int status,
                String field) {
    }

    private enum Auth { OPERATOR_TOKEN, NODE_CREDENTIAL, JOIN_TOKEN }

    private final Map<String, String> ids = new LinkedHashMap<>();
    private final Map<String, String> validBodies = new LinkedHashMap<>();
    private final List<String> secrets = new ArrayList<>();
    private String viewer;
    private String operator;
    private String revoked;
    private Agent nodeA;
    private Agent nodeB;

    @Test
    void everyEndpointRefusesHostileRequestsWithA4xxProblemAndNoChange(CapturedOutput output) {
        fixtures();
        List<Case> cases = new ArrayList<>();
        int endpoints = 0;
        for (Map.Entry<RequestMappingInfo, HandlerMethod> e : mappings.getHandlerMethods().entrySet()) {
            for (String pattern : e.getKey().getPatternValues()) {
                if (!pattern.startsWith("/api/")) {
                    continue;
                }
                Set<RequestMethod> methods = e.getKey().getMethodsCondition().getMethods();
                for (RequestMethod method : methods.isEmpty() ? Set.of(RequestMethod.GET) : methods) {
                    endpoints++;
                    cases.addAll(casesFor(method.name(), pattern, e.getKey(), e.getValue()));
                }
            }
        }

        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            String failure = check(c);
            if (failure != null) {
                failures.add(failure);
            }
        }
        for (String secret : secrets) {
            if (output.getAll().contains(secret)) {
                failures.add("the log holds a secret (" + secret.substring(0, 4) + "...)");
            }
        }
        System.out.printf("HostileRequestsTest: %d hostile requests over %d endpoints, %d failed%n", cases.size(),
                endpoints, failures.size());
        assertThat(failures).as(cases.size() + " cases").isEmpty();
        // the walk itself must not have lost its way: every endpoint was found and had cases
        assertThat(endpoints).isGreaterThanOrEqualTo(36);
        assertThat(cases.size()).isGreaterThanOrEqualTo(700);
    }

    // ---- fixtures: one of everything a path can name, and every secret that must never come back

    private void fixtures() {
        viewer = token("VIEWER");
        operator = token("OPERATOR");
        Reply created = call("POST", "/api/v1/tokens", ADMIN_TOKEN, Map.of("name", "hostile-" + UUID.randomUUID(),
                "role", "VIEWER"));
        String tokenId = created.body().at("/token/id").asString();
        revoked = created.body().get("secret").asString();
        assertThat(call("DELETE", "/api/v1/tokens/" + tokenId, ADMIN_TOKEN, null).status()).isEqualTo(200);

        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        nodeA = agents.get(0);
        nodeB = agents.get(1);
        UUID runId = UUID.fromString(call("POST", "/api/v1/runs", operator, tinyRun(rack, 1, 0)).body()
                .get("id").asString());
        awaitState(operator, runId, RunState.STARTING);
        if (heartbeat(nodeA, TrainerStatus.idle()).desired() != DesiredState.RUN) { // A: the node holding rank 0
            nodeA = agents.get(1);
            nodeB = agents.get(0);
        }
        // what each agent endpoint would accept from node A: sent with the wrong kind of credential, a 2xx is a bypass
        validBodies.put("/api/v1/agents/register", json.writeValueAsString(new RegisterRequest("hostile-" + rack,
                "hostile.local", List.of(new GpuInfo(0, "GPU-hostile", "NVIDIA H100", 81559)), Map.of(), "test")));
        validBodies.put("/api/v1/agents/{nodeId}/heartbeat", json.writeValueAsString(new HeartbeatRequest(1_000_000,
                List.of(new GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(), 0)), TrainerStatus.idle())));
        validBodies.put("/api/v1/agents/{nodeId}/reports", json.writeValueAsString(new TrainerReport(runId, 0, 1,
                List.of(), List.of())));
        validBodies.put("/api/v1/agents/{nodeId}/logs", json.writeValueAsString(new TrainerLogBatch(runId, 0, 1,
                List.of(new TrainerLogBatch.Line(0, java.time.Instant.now(), TrainerLogBatch.Stream.STDOUT, "x")),
                0L)));

        Reply webhook = call("POST", "/api/v1/webhooks", ADMIN_TOKEN, Map.of("name", "hostile",
                "url", "http://127.0.0.1:9/hook", "eventTypes", List.of("node.failed")));
        assertThat(webhook.status()).as(webhook.raw().body()).isEqualTo(201);
        String webhookId = webhook.body().get("id").asString();
        Reply delivery = call("POST", "/api/v1/webhooks/" + webhookId + "/test", operator, null);
        assertThat(delivery.status()).as(delivery.raw().body()).isEqualTo(202);

        Reply program = call("POST", "/api/v1/programs", ADMIN_TOKEN, Map.of("name",
                "hostile-" + UUID.randomUUID().toString().substring(0, 8), "version", "1"));
        assertThat(program.status()).as(program.raw().body()).isEqualTo(201);
        ids.put("programs", program.body().get("id").asString());
        ids.put("runs", runId.toString());
        ids.put("nodes", nodeA.id().toString());
        ids.put("agents", nodeA.id().toString());
        ids.put("webhooks", webhookId);
        ids.put("tokens", tokenId);
        ids.put("webhook-deliveries", delivery.body().get("id").asString());
        secrets.addAll(List.of(ADMIN_TOKEN, JOIN_TOKEN, viewer, operator, revoked, nodeA.credential(),
                nodeB.credential(), webhook.body().get("secret").asString()));
    }

    // ---- the cases of one endpoint

    private List<Case> casesFor(String method, String pattern, RequestMappingInfo info, HandlerMethod handler) {
        String path = concrete(pattern, null, null);
        MethodParameter body = null;
        List<MethodParameter> params = new ArrayList<>();
        for (MethodParameter p : handler.getMethodParameters()) {
            p.initParameterNameDiscovery(new DefaultParameterNameDiscoverer());
            if (p.hasParameterAnnotation(RequestBody.class)) {
                body = p;
            } else if (p.hasParameterAnnotation(RequestParam.class)) {
                params.add(p);
            }
        }
        boolean yaml = info.getConsumesCondition().getConsumableMediaTypes().stream()
                .anyMatch(t -> t.getSubtype().contains("yaml"));
        String type = yaml ? "application/yaml" : "application/json";
        String emptyBody = body == null ? null : "{}";
        Auth auth = pattern.equals("/api/v1/agents/register") ? Auth.JOIN_TOKEN
                : pattern.startsWith("/api/v1/agents/") ? Auth.NODE_CREDENTIAL : Auth.OPERATOR_TOKEN;
        String rightCredential = switch (auth) {
            case JOIN_TOKEN -> JOIN_TOKEN;
            case NODE_CREDENTIAL -> nodeA.credential();
            case OPERATOR_TOKEN -> ADMIN_TOKEN;
        };
        String where = method + " " + pattern;
        List<Case> cases = new ArrayList<>();

        // who is calling
        cases.add(new Case(where + ": no token", method, path, null, emptyBody, type, 401, null));
        cases.add(new Case(where + ": a wrong token", method, path, WRONG_TOKEN, emptyBody, type, 401, null));
        switch (auth) {
            case OPERATOR_TOKEN -> {
                cases.add(new Case(where + ": a revoked token", method, path, revoked, emptyBody, type, 401, null));
                cases.add(new Case(where + ": the join token", method, path, JOIN_TOKEN, emptyBody, type, 401, null));
                cases.add(new Case(where + ": a node credential", method, path, nodeA.credential(), emptyBody, type,
                        401, null));
                Role required = required(handler, method);
                if (required != Role.VIEWER) {
                    String tooLow = required == Role.ADMIN ? operator : viewer;
                    cases.add(new Case(where + ": role below " + required, method, path, tooLow, emptyBody, type,
                            403, null));
                }
            }
            case NODE_CREDENTIAL -> {
                cases.add(new Case(where + ": another node's credential", method, path, nodeB.credential(),
                        emptyBody, type, 401, null));
                cases.add(new Case(where + ": an operator token", method, path, ADMIN_TOKEN, emptyBody, type, 401,
                        null));
                cases.add(new Case(where + ": the join token", method, path, JOIN_TOKEN, emptyBody, type, 401, null));
            }
            case JOIN_TOKEN -> {
                cases.add(new Case(where + ": a node credential", method, path, nodeA.credential(), emptyBody, type,
                        401, null));
                cases.add(new Case(where + ": an operator token", method, path, ADMIN_TOKEN, emptyBody, type, 401,
                        null));
            }
        }

        // the path spelt so that string prefixes no longer match it: a percent-encoded letter or a matrix
        // parameter in its first segment after /api/v1/, with a credential of the wrong kind (an operator token at
        // an agent endpoint, none elsewhere): refused or authenticated by the handler it reaches, never let through
        String wrongKind = auth == Auth.OPERATOR_TOKEN ? null : ADMIN_TOKEN;
        int first = "/api/v1/".length();
        String encoded = path.substring(0, first) + "%" + Integer.toHexString(path.charAt(first))
                + path.substring(first + 1);
        int segmentEnd = path.indexOf('/', first) < 0 ? path.length() : path.indexOf('/', first);
        String matrix = path.substring(0, segmentEnd) + ";x=1" + path.substring(segmentEnd);
        String valid = validBodies.getOrDefault(pattern, emptyBody); // a bypass then shows as a 2xx
        cases.add(new Case(where + ": percent-encoded path " + encoded, method, encoded, wrongKind, valid, type,
                ANY_4XX, null));
        cases.add(new Case(where + ": matrix parameter " + matrix, method, matrix, wrongKind, valid, type,
                ANY_4XX, null));

        // malformed path variables
        Matcher variables = VARIABLE.matcher(pattern);
        while (variables.find()) {
            String name = variables.group(1);
            for (String bad : List.of("not-a-uuid", "1e308", "0x10")) {
                cases.add(new Case(where + ": path variable " + name + "=" + bad, method,
                        concrete(pattern, name, bad), rightCredential, emptyBody, type, 400, name));
            }
            for (String bad : List.of("%00", "a%2Fb")) { // Tomcat's own pages were text/html
                cases.add(new Case(where + ": path variable " + name + "=" + bad, method,
                        concrete(pattern, name, bad), rightCredential, emptyBody, type, ANY_4XX, null));
            }
        }

        // malformed request parameters
        for (MethodParameter p : params) {
            RequestParam annotation = p.getParameterAnnotation(RequestParam.class);
            String name = annotation != null && !annotation.name().isEmpty() ? annotation.name()
                    : p.getParameterName();
            Class<?> t = p.getParameterType();
            List<String> bad = new ArrayList<>(List.of("%00"));
            if (t != String.class) {
                bad.addAll(List.of("abc", "1.5", "99999999999999999999"));
            }
            // paging in range: a negative page, or a page size of none or of the whole table, is refused by name
            if (name.equals("page")) {
                bad.add("-1");
            } else if (name.equals("size") || name.equals("limit")) {
                bad.addAll(List.of("0", "-1", "2147483647"));
            }
            for (String value : bad) {
                cases.add(new Case(where + ": parameter " + name + "=" + value, method,
                        path + "?" + name + "=" + value, rightCredential, emptyBody, type, 400, name));
            }
        }

        // bodies
        if (body != null) {
            cases.add(new Case(where + ": malformed body", method, path, rightCredential,
                    yaml ? "a: [1, 2\nb: {" : "{\"a\": ", type, 400, null));
            cases.add(new Case(where + ": oversized body", method, path, rightCredential,
                    "{\"a\":\"" + "x".repeat(OVERSIZED) + "\"}", type, 413, null));
            cases.add(new Case(where + ": a list for an object", method, path, rightCredential, "[1, 2]", type, 400,
                    null));
            List<FieldValue> values = new ArrayList<>();
            fieldValues(body.getGenericParameterType(), "", UnaryOperator.identity(), values, 0, yaml);
            for (FieldValue v : values) {
                cases.add(new Case(where + ": " + v.field + " = " + v.what, method, path, rightCredential, v.body,
                        type, 400, v.field));
            }
        }
        return cases;
    }

    /** The pattern with every variable replaced by a real id of its kind, except {@code bad} for {@code name}. */
    private String concrete(String pattern, String name, String bad) {
        Matcher m = VARIABLE.matcher(pattern);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String variable = m.group(1);
            String before = pattern.substring(0, m.start());
            String kind = before.substring(before.lastIndexOf('/', before.length() - 2) + 1, before.length() - 1);
            String value = variable.equals(name) ? bad : ids.get(kind);
            assertThat(value).as("a fixture id for {%s} after /%s/ in %s: add one to fixtures()", variable, kind,
                    pattern).isNotNull();
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static Role required(HandlerMethod handler, String method) {
        RequiresRole onMethod = handler.getMethodAnnotation(RequiresRole.class);
        RequiresRole onClass = handler.getBeanType().getAnnotation(RequiresRole.class);
        return onMethod != null ? onMethod.value() : onClass != null ? onClass.value()
                : method.equals("GET") || method.equals("HEAD") ? Role.VIEWER : Role.OPERATOR;
    }

    // ---- bad values for every field of a body type

    /** A body with one field set to a bad value. */
    record FieldValue(String field, String what, String body) {
    }

    /**
     * Adds, for the value at {@code field} (its body made by {@code wrap}), the bad values of its type; recurses into
     * records, lists and maps.
     */
    private static void fieldValues(Type type, String field, UnaryOperator<String> wrap, List<FieldValue> out,
                                    int depth, boolean yaml) {
        Class<?> raw = raw(type);
        if (depth > 4 || raw == null || JsonNode.class.isAssignableFrom(raw) || raw == Object.class) {
            return;
        }
        if (raw.isRecord()) {
            for (RecordComponent c : raw.getRecordComponents()) {
                String name = c.getName();
                fieldValues(c.getGenericType(), field.isEmpty() ? name : field + "." + name,
                        v -> wrap.apply("{\"" + name + "\":" + v + "}"), out, depth + 1, yaml);
            }
            return;
        }
        if (field.isEmpty()) {
            return; // a body that is not a record (bytes of YAML are walked as the run spec record)
        }
        if (Collection.class.isAssignableFrom(raw)) {
            out.add(new FieldValue(field, "an object for a list", wrap.apply("{}")));
            fieldValues(argument(type, 0), field + "[0]", v -> wrap.apply("[" + v + "]"), out, depth + 1, yaml);
            return;
        }
        if (Map.class.isAssignableFrom(raw)) {
            out.add(new FieldValue(field, "a list for a map", wrap.apply("[1]")));
            fieldValues(argument(type, 1), field + ".k", v -> wrap.apply("{\"k\":" + v + "}"), out, depth + 1, yaml);
            return;
        }
        Map<String, String> bad = new LinkedHashMap<>();
        if (raw == int.class || raw == Integer.class) {
            bad.put("2^31", "2147483648");
            bad.put("a fraction", "1.5");
            bad.put("a numeric string", "\"1\"");
            bad.put("1e308", "1e308");
        } else if (raw == long.class || raw == Long.class) {
            bad.put("2^63", "9223372036854775808");
            bad.put("a fraction", "1.5");
            bad.put("a numeric string", "\"1\"");
        } else if (raw == double.class || raw == Double.class) {
            bad.put("text", "\"x\"");
            bad.put("true", "true");
        } else if (raw == boolean.class || raw == Boolean.class) {
            bad.put("a number", "1");
            bad.put("text", "\"maybe\"");
        } else if (raw == String.class) {
            bad.put("NUL", "\"a\\u0000b\"");
            bad.put("an object", "{}");
            if (!yaml) { // YAML reads `name: 7` as the text "7"
                bad.put("a number", "7");
            }
        } else if (raw.isEnum()) {
            bad.put("a number", "2");
            bad.put("an unknown name", "\"NO_SUCH_VALUE\"");
        } else if (raw == UUID.class) {
            bad.put("not a UUID", "\"not-a-uuid\"");
            bad.put("a number", "7");
        } else if (Temporal.class.isAssignableFrom(raw) || raw == Duration.class) {
            bad.put("not a time", "\"yesterday\"");
        } else {
            return;
        }
        bad.forEach((what, literal) -> out.add(new FieldValue(field, what, wrap.apply(literal))));
    }

    /** The one endpoint that takes raw bytes reads them as a YAML run spec. */
    private static Class<?> raw(Type type) {
        return type instanceof Class<?> c ? (c == byte[].class ? RunSpecRequest.class : c)
                : type instanceof ParameterizedType p ? (Class<?>) p.getRawType() : null;
    }

    private static Type argument(Type type, int index) {
        return type instanceof ParameterizedType p ? p.getActualTypeArguments()[index] : Object.class;
    }

    // ---- one request and its checks

    /** Null when the answer is right; else what was wrong. */
    private String check(Case c) {
        List<Long> before = rowCounts();
        Reply r = send(c.method, c.path, c.token, c.body, c.contentType);
        List<Long> after = rowCounts();
        String text = r.raw().body();
        String shown = c.what + " -> " + r.status() + " " + (text.length() > 300 ? text.substring(0, 300) : text);
        if (c.status == ANY_4XX ? r.status() < 400 || r.status() > 499 : r.status() != c.status) {
            return shown + " (expected " + c.status + ")";
        }
        if (!r.raw().headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json")) {
            return shown + " (not a problem detail)";
        }
        if (c.field != null && !c.field.equals(r.body().path("field").asString(null))) {
            return shown + " (expected field " + c.field + ")";
        }
        if (text.contains("java.") || text.contains("dev.steadyrun") || text.contains("Exception")) {
            return shown + " (names Java types)";
        }
        for (String secret : secrets) {
            if (text.contains(secret)) {
                return c.what + " -> the answer holds a secret (" + secret.substring(0, 4) + "...)";
            }
        }
        if (!before.equals(after)) {
            return shown + " (row counts changed: " + before + " -> " + after + ")";
        }
        return null;
    }

    private List<String> tables;

    /** The row count of every table of the schema but the scheduler's own (Quartz) and Flyway's. */
    private List<Long> rowCounts() {
        if (tables == null) {
            tables = jdbc.queryForList("""
                    select table_name from information_schema.tables where table_schema = current_schema()
                    and table_type = 'BASE TABLE' and table_name not like 'qrtz%' and table_name not like 'flyway%'
                    order by table_name""", String.class);
        }
        String sql = "select " + String.join(", ", tables.stream().map(t -> "(select count(*) from " + t + ")")
                .toList());
        return jdbc.query(sql, rs -> {
            rs.next();
            List<Long> counts = new ArrayList<>();
            for (int i = 1; i <= tables.size(); i++) {
                counts.add(rs.getLong(i));
            }
            return counts;
        });
    }
}
