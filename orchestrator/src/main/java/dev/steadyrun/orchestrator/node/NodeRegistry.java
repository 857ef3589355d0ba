package dev.steadyrun.orchestrator.node;

import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

import jakarta.persistence.criteria.MapJoin;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.data.jpa.domain.Specification;
import org.springframework.orm.ObjectOptimisticLockingFailureException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

import dev.steadyrun.orchestrator.security.NodeCredentials;
import dev.steadyrun.orchestrator.security.Secrets;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.ConflictException;
import dev.steadyrun.orchestrator.web.ForbiddenException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.protocol.GpuInfo;
import dev.steadyrun.protocol.LeaseTimings;
import dev.steadyrun.protocol.ProgramRef;
import dev.steadyrun.protocol.RegisterRequest;
import dev.steadyrun.protocol.RegisterResponse;

/**
 * The fleet's nodes: registration, every state change (through {@link #transition}, the only writer of
 * {@code node.state}, which writes a {@code node_event} row in the same transaction), operator actions, and the
 * queries other features use ({@link #availableNodes()}, {@link #spareNodes()}, {@link #state(UUID)}).
 *
 * <p>Over 400 lines because it is the {@code node} table's one writer: registration with its identity rules, the
 * admin's re-key and delete and every state change share the row locks and the event written beside each change,
 * and splitting them would put a second writer on the table.
 */
@Service
public class NodeRegistry {

    public static final String SYSTEM = "system";

    private static final Logger log = LoggerFactory.getLogger(NodeRegistry.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.:-]{0,251}[A-Za-z0-9])?");
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");
    private static final TypeReference<List<GpuInfo>> GPU_INFOS = new TypeReference<>() {
    };
    private static final int MAX_PAGE = 500;

    private final NodeRepository nodes;
    private final NodeEventRepository events;
    private final LeaseTable leases;
    private final NodeCredentials credentials;
    private final Clock clock;
    private final ObjectMapper json;
    private final TransactionTemplate tx;
    private final ApplicationEventPublisher publisher;

    NodeRegistry(NodeRepository nodes, NodeEventRepository events, LeaseTable leases, NodeCredentials credentials,
                 Clock clock, ObjectMapper json, PlatformTransactionManager txm, ApplicationEventPublisher publisher) {
        this.publisher = publisher;
        this.nodes = nodes;
        this.events = events;
        this.leases = leases;
        this.credentials = credentials;
        this.clock = clock;
        this.json = json;
        this.tx = new TransactionTemplate(txm);
    }

    /**
     * Joins a node under a new name, or re-joins the node of that name when the request proves the node's current
     * credential (the join token alone never takes over an existing name: every agent, and whoever read one
     * agent's configuration, holds it). A re-join keeps the credential and takes the new description. A new node
     * takes the credential its agent proposed (stored before asking, so that a retry after a lost answer re-joins),
     * else a fresh one. A re-joining
     * HEALTHY, SPARE or SUSPECT node becomes REGISTERED (its agent restarted: it must heartbeat again); CORDONED,
     * DRAINING and FAILED are kept.
     *
     * @throws ForbiddenException when the name is taken and the credential is missing or wrong (nothing changes)
     */
    public RegisterResponse register(RegisterRequest request) {
        validate(request);
        // a new node takes the credential its agent proposed (and stored before asking), else a fresh one
        String credential = request.nodeCredential() != null ? request.nodeCredential() : Secrets.generate("srn_");
        Instant now = clock.instant();
        Map<String, String> labels = request.labels() == null ? Map.of() : request.labels();
        String gpus = json.writeValueAsString(request.gpus());
        List<String> programs = request.programs() == null ? List.of()
                : request.programs().stream().map(ProgramRef::toString).distinct().toList();
        Joined joined;
        try {
            joined = tx.execute(s -> {
                Node n = nodes.findByName(request.nodeName()).orElse(null);
                boolean fresh = n == null;
                if (fresh) {
                    n = new Node(UUID.randomUUID(), request.nodeName(), now);
                    n.rekey(Secrets.sha256(credential));
                } else if (!Secrets.matches(request.nodeCredential(), n.getCredentialHash())) {
                    throw new ForbiddenException("node name '" + request.nodeName() + "' is already registered:"
                            + " re-registering needs the node's current credential (nodeCredential), or an admin's"
                            + " re-key (POST /api/v1/nodes/{id}/rekey)");
                }
                n.describe(request.hostname(), request.agentVersion(), gpus, labels, programs);
                n = nodes.save(n);
                if (fresh) {
                    events.save(new NodeEvent(n.getId(), now, null, NodeState.REGISTERED,
                            "registered from host " + request.hostname(), SYSTEM));
                }
                return new Joined(n, fresh);
            });
        } catch (DataIntegrityViolationException e) {
            if (!uniqueViolation(e)) {
                throw e;
            }
            throw new ConflictException("node '" + request.nodeName() + "' is registering concurrently; retry");
        } catch (ObjectOptimisticLockingFailureException e) { // an admin deleted it meanwhile
            throw new ConflictException("node '" + request.nodeName() + "' changed concurrently; retry");
        }
        UUID id = joined.node().getId();
        if (joined.fresh()) {
            // only a new node's hash is new: a re-join must not put back a hash that a concurrent re-key replaced
            credentials.put(id, joined.node().getCredentialHash());
        }
        LeaseRecord record = leases.get(id);
        if (record == null) {
            leases.put(new LeaseRecord(id, NodeState.REGISTERED, null, now, leases.timingsNow()));
            log.info("Node {} ({}) registered", request.nodeName(), id);
        } else {
            NodeState state = record.state;
            if (state == NodeState.HEALTHY || state == NodeState.SPARE || state == NodeState.SUSPECT) {
                transition(id, state, NodeState.REGISTERED, "re-registered: the agent restarted", SYSTEM);
            } else {
                record.graceFrom = now;
            }
            log.info("Node {} ({}) re-registered in state {}", request.nodeName(), id, record.state);
        }
        LeaseTimings timings = leases.timingsNow();
        leases.get(id).timings = timings;
        return new RegisterResponse(id, credential, timings);
    }

    private record Joined(Node node, boolean fresh) {
    }

    /** PostgreSQL's unique_violation: the one integrity error that means another registration won a race. */
    private static boolean uniqueViolation(DataIntegrityViolationException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * An admin's re-key: a new credential for the node, answered once; the old one stops working at once (its
     * agent's next call is refused, and it cannot re-register with it). Recorded as a node event.
     */
    public RegisterResponse rekey(UUID id, String actor) {
        LeaseRecord record = record(id);
        String credential = Secrets.generate("srn_");
        byte[] hash = Secrets.sha256(credential);
        Instant now = clock.instant();
        synchronized (record) {
            tx.executeWithoutResult(s -> {
                Node n = nodes.findById(id).orElseThrow(() -> notFound(id));
                n.rekey(hash);
                nodes.save(n);
                NodeState state = record.state;
                events.save(new NodeEvent(id, now, state, state, "re-keyed: a new node credential was credential",
                        actor));
            });
            credentials.put(id, hash);
        }
        log.info("Node {} re-keyed by {}", id, actor);
        return new RegisterResponse(id, credential, record.timings);
    }

    /**
     * An admin's delete: the node leaves the fleet, its credential stops working and its name is free for a new
     * node. Refused while the node holds a seat in a run that is not over (cancel the run or drain the node first).
     * A node that worked for runs is kept as a tombstone so that their history still names it.
     */
    public void delete(UUID id, String actor) {
        remove(id, "deleted by " + actor, true);
    }

    /** The sweeper's expiry of a registration that never heartbeat (it can have no run history). */
    void expire(UUID id, String reason) {
        remove(id, "expired: " + reason, false);
    }

    private void remove(UUID id, String why, boolean refuseWhileWorking) {
        LeaseRecord record = record(id);
        synchronized (record) { // no transition of the node meanwhile
            boolean removed = Boolean.TRUE.equals(tx.execute(s -> {
                if (nodes.lockForDelete(id).isEmpty()) {
                    return false;
                }
                List<String> runs = nodes.liveRunsOf(id);
                if (!runs.isEmpty()) {
                    if (refuseWhileWorking) {
                        throw new ConflictException("node " + id + " holds a seat in run " + String.join(", ", runs)
                                + ", which is not over: cancel the run or drain the node first");
                    }
                    return false;
                }
                if (nodes.deleteIfNoHistory(id) == 0) {
                    nodes.retire(id, clock.instant());
                }
                return true;
            }));
            if (!removed) {
                return;
            }
            leases.remove(id);
            credentials.remove(id);
        }
        log.info("Node {} removed from the fleet: {}", id, why);
    }

    /**
     * Moves a node from {@code from} to {@code to}, if it is still in {@code from} (false otherwise: someone else
     * moved it first). The guard refuses moves the table does not allow. Written synchronously: state changes are
     * rare, and must survive a crash.
     */
    boolean transition(UUID id, NodeState from, NodeState to, String reason, String actor) {
        LeaseRecord record = record(id);
        Instant at;
        synchronized (record) {
            if (record.state != from) {
                return false;
            }
            NodeState.check(from, to);
            Instant now = clock.instant();
            tx.executeWithoutResult(s -> {
                if (nodes.transition(id, from, to, reason, now) != 1) {
                    throw new ConflictException("node " + id + " is no longer " + from + " in the database");
                }
                events.save(new NodeEvent(id, now, from, to, reason, actor));
            });
            record.state = to;
            if (to == NodeState.REGISTERED) {
                record.graceFrom = now;
            }
            log.info("Node {}: {} -> {} by {}: {}", id, from, to, actor, reason);
            at = now;
        }
        // outside the record's monitor: listeners (recovery) may take run locks
        publisher.publishEvent(new NodeStateChanged(id, from, to, reason, at));
        return true;
    }

    public NodeView cordon(UUID id, String reason, String actor) {
        return operatorMove(id, NodeState.CORDONED, reason == null ? "cordoned" : reason, actor);
    }

    public NodeView drain(UUID id, String reason, String actor) {
        return operatorMove(id, NodeState.DRAINING, reason == null ? "drain requested" : reason, actor);
    }

    /** Readmits a CORDONED, DRAINING or FAILED node: REGISTERED until its next heartbeat proves it alive. */
    public NodeView uncordon(UUID id, String reason, String actor) {
        NodeState state = record(id).state;
        if (state != NodeState.CORDONED && state != NodeState.DRAINING && state != NodeState.FAILED) {
            throw new ConflictException("node " + id + " is " + state + "; only CORDONED, DRAINING or FAILED nodes"
                    + " can be uncordoned");
        }
        return operatorMove(id, NodeState.REGISTERED,
                reason == null ? "readmitted; awaiting a heartbeat" : reason, actor);
    }

    /** Reserves a HEALTHY node as a hot spare. */
    public NodeView markSpare(UUID id, String actor) {
        requireState(id, NodeState.HEALTHY);
        return operatorMove(id, NodeState.SPARE, "reserved as a spare", actor);
    }

    /** Returns a SPARE node to the pool (HEALTHY), e.g. to replace a failed one. */
    public NodeView releaseSpare(UUID id, String actor) {
        requireState(id, NodeState.SPARE);
        return operatorMove(id, NodeState.HEALTHY, "released from the spare pool", actor);
    }

    private void requireState(UUID id, NodeState expected) {
        NodeState state = record(id).state;
        if (state != expected) {
            throw new ConflictException("node " + id + " is " + state + ", not " + expected);
        }
    }

    private NodeView operatorMove(UUID id, NodeState to, String reason, String actor) {
        NodeState from = record(id).state;
        if (!transition(id, from, to, reason, actor)) {
            throw new ConflictException("node " + id + " changed state concurrently; retry");
        }
        return view(id);
    }

    /** The node's state, from memory (cheap). */
    public NodeState state(UUID id) {
        return record(id).state;
    }

    /** HEALTHY nodes: those that may be given new work. */
    public List<NodeView> availableNodes() {
        return nodes.findByStateOrderByName(NodeState.HEALTHY).stream().map(this::toView).toList();
    }

    public List<NodeView> spareNodes() {
        return nodes.findByStateOrderByName(NodeState.SPARE).stream().map(this::toView).toList();
    }

    public NodeView view(UUID id) {
        return toView(nodes.findById(id).orElseThrow(() -> notFound(id)));
    }

    NodeDtos.Detail detail(UUID id) {
        Node n = nodes.findById(id).orElseThrow(() -> notFound(id));
        LeaseRecord r = record(id);
        return new NodeDtos.Detail(toView(n), r.sequence, r.gpus == null ? List.of() : r.gpus, r.trainer);
    }

    /** Nodes by name, optionally only one state and/or one label ({@code key=value}). */
    NodeDtos.Page<NodeView> list(NodeState state, String label, int page, int size) {
        if (page < 0) {
            throw new BadRequestException("page", "must be >= 0");
        }
        if (size < 1 || size > MAX_PAGE) {
            throw new BadRequestException("size", "must be between 1 and " + MAX_PAGE);
        }
        Specification<Node> spec = (root, q, cb) -> cb.conjunction();
        if (state != null) {
            spec = spec.and((root, q, cb) -> cb.equal(root.get("state"), state));
        }
        if (label != null) {
            int eq = label.indexOf('=');
            if (eq <= 0) {
                throw new BadRequestException("label", "must be key=value");
            }
            String key = label.substring(0, eq);
            String value = label.substring(eq + 1);
            spec = spec.and((root, q, cb) -> {
                MapJoin<Node, String, String> labels = root.joinMap("labels");
                return cb.and(cb.equal(labels.key(), key), cb.equal(labels.value(), value));
            });
        }
        var result = nodes.findAll(spec, PageRequest.of(page, size, Sort.by("name")));
        return new NodeDtos.Page<>(result.map(this::toView).getContent(), page, size, result.getTotalElements());
    }

    NodeDtos.Page<NodeDtos.Event> events(UUID id, int page, int size) {
        if (!nodes.existsById(id)) {
            throw notFound(id);
        }
        if (page < 0 || size < 1 || size > MAX_PAGE) {
            throw new BadRequestException(page < 0 ? "page" : "size", "page >= 0, size 1.." + MAX_PAGE);
        }
        var result = events.findByNodeIdOrderByIdDesc(id, PageRequest.of(page, size));
        return new NodeDtos.Page<>(result.map(NodeDtos.Event::of).getContent(), page, size,
                result.getTotalElements());
    }

    private LeaseRecord record(UUID id) {
        LeaseRecord r = leases.get(id);
        if (r == null) {
            throw notFound(id);
        }
        return r;
    }

    private static NotFoundException notFound(UUID id) {
        return new NotFoundException("no node " + id);
    }

    private NodeView toView(Node n) {
        LeaseRecord r = leases.get(n.getId());
        Instant seen = r != null && r.lastSeen != null ? r.lastSeen : n.getLastSeenAt();
        NodeState state = r != null ? r.state : n.getState();
        return new NodeView(n.getId(), n.getName(), n.getHostname(), n.getAgentVersion(), state,
                n.getStateReason(), n.getStateChangedAt(), Map.copyOf(n.getLabels()),
                json.readValue(n.getGpus(), GPU_INFOS), n.getRegisteredAt(), seen,
                r == null ? null : NodeView.Seat.of(r.trainer), r == null ? null : NodeView.GpuSummary.of(r.gpus));
    }

    private static void validate(RegisterRequest r) {
        if (r.nodeName() == null || !NAME.matcher(r.nodeName()).matches()) {
            throw new BadRequestException("nodeName",
                    "required: 1-253 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        // peers dial the hostname as their rendezvous address: only a host name or an IP address
        if (r.hostname() == null || !HOST.matcher(r.hostname()).matches()) {
            throw new BadRequestException("hostname", "required: a host name or IP address, at most 253 letters,"
                    + " digits, '.', ':' or '-'");
        }
        if (r.agentVersion() != null && (r.agentVersion().length() > 64 || hasControl(r.agentVersion()))) {
            throw new BadRequestException("agentVersion", "at most 64 characters, no control characters");
        }
        if (r.nodeCredential() != null && !RegisterRequest.CREDENTIAL.matcher(r.nodeCredential()).matches()) {
            throw new BadRequestException("nodeCredential", "must be 'srn_' and 43-200 URL-safe base64 characters");
        }
        if (r.gpus() == null) {
            throw new BadRequestException("gpus", "required (an empty list for a node without GPUs)");
        }
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < r.gpus().size(); i++) {
            GpuInfo g = r.gpus().get(i);
            if (g == null) {
                throw new BadRequestException("gpus[" + i + "]", "must not be null");
            }
            if (g.index() < 0 || !seen.add(g.index())) {
                throw new BadRequestException("gpus[" + i + "].index", "must be >= 0 and unique");
            }
            if (g.memoryMiB() < 0) {
                throw new BadRequestException("gpus[" + i + "].memoryMiB", "must be >= 0");
            }
        }
        if (r.programs() != null) {
            if (r.programs().size() > ProgramRef.MAX_PER_AGENT) {
                throw new BadRequestException("programs", "at most " + ProgramRef.MAX_PER_AGENT + " programs");
            }
            for (int i = 0; i < r.programs().size(); i++) {
                ProgramRef p = r.programs().get(i);
                if (p == null || !p.valid()) {
                    throw new BadRequestException("programs[" + i + "]", "name: 1-63 lower-case letters, digits,"
                            + " '.', '_' or '-'; version: 1-64 letters, digits, '.', '_', '+' or '-'");
                }
            }
        }
        if (r.labels() != null) {
            for (var e : r.labels().entrySet()) {
                if (!LABEL_KEY.matcher(e.getKey()).matches()) {
                    throw new BadRequestException("labels." + e.getKey(), "key: 1-63 letters, digits, '.', '_', '/' or '-'");
                }
                if (e.getValue() == null || e.getValue().length() > 253 || hasControl(e.getValue())) {
                    throw new BadRequestException("labels." + e.getKey(),
                            "value required, at most 253 characters, no control characters");
                }
            }
        }
    }

    /** CR, LF, NUL and the other control characters, and the Unicode line breaks: they forge log and alert lines. */
    private static boolean hasControl(String s) {
        return s.chars().anyMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029');
    }
}
